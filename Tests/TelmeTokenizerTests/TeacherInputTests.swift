import Foundation
import Testing
@testable import TelmeTokenizer

/// Speaker numbering, prompt strings, truncation and padding, worked out by hand.
@Suite struct TeacherInputTests {
    /// Three dialogues, then dialogue "1" again after the others.
    let turns: [DialogueTurn] = [
        ("1", "Ann", "Hi."), ("1", "Bob", "Hello, Ann."), ("1", "Ann", "Bye."),
        ("2", "Cat", "Who?"), ("2", "Ann", "Me."), ("2", "Cat", "Oh."),
        ("3", "Ann", "Again."), ("3", "Ann", "Still me."), ("3", "Dan", "Hey\u{a0}"),
        ("1", "Bob", "Back."),
    ].map { DialogueTurn(dialogue: $0.0, speaker: $0.1, text: $0.2) }

    @Test func officialNumberingEmptiesTheListOneTurnLate() {
        // Row 3 (Cat) is numbered against dialogue 1's [Ann, Bob] -> 2, then the list is emptied,
        // so Cat is 1 at row 5; row 6 (Ann) finds Ann in dialogue 2's [Ann, Cat] -> 0; row 9
        // (Bob) is numbered against dialogue 3's [Ann, Dan] -> 2.
        #expect(TeacherInputBuilder.speakerNumbers(turns, numbering: .official) == [0, 1, 0, 2, 0, 1, 0, 0, 1, 2])
    }

    @Test func dialogueNumberingRestartsAtEveryDialogue() {
        #expect(TeacherInputBuilder.speakerNumbers(turns, numbering: .dialogue) == [0, 1, 0, 0, 1, 0, 0, 0, 1, 0])
    }

    @Test func aDialogueIdThatComesBackStartsANewDialogue() {
        #expect(TeacherInputBuilder.dialogueStarts(turns) ==
            [true, false, false, true, false, false, true, false, false, true])
    }

    @Test func promptStrings() {
        let official = TeacherInputBuilder.prompts(turns, numbering: .official)
        #expect(official[0] == "<s1> Hi. </s> Now <s1> feels")
        #expect(official[2] == "<s1> Hi. <s2> Hello, Ann. <s1> Bye. </s> Now <s1> feels")
        #expect(official[3] == "<s3> Who? </s> Now <s3> feels")
        #expect(official[5] == "<s3> Who? <s1> Me. <s2> Oh. </s> Now <s2> feels")
        // Python's strip() removes the trailing no-break space of the last text.
        #expect(official[8] == "<s1> Again. <s1> Still me. <s2> Hey </s> Now <s2> feels")
        #expect(official[9] == "<s3> Back. </s> Now <s3> feels")
        let dialogue = TeacherInputBuilder.prompts(turns, numbering: .dialogue)
        #expect(dialogue[5] == "<s1> Who? <s2> Me. <s1> Oh. </s> Now <s1> feels")
    }

    @Test func tenthSpeakerIsPlainText() {
        let many = (0..<10).map { DialogueTurn(dialogue: "d", speaker: "p\($0)", text: "t\($0)") }
        let prompts = TeacherInputBuilder.prompts(many, numbering: .dialogue)
        #expect(prompts[9].hasSuffix("<s9> t8 <s10> t9 </s> Now <s10> feels"))
    }

    @Test func emptyTextAndWhitespace() {
        let odd = [DialogueTurn(dialogue: "d", speaker: "a", text: ""), DialogueTurn(dialogue: "d", speaker: "b", text: "  ")]
        #expect(TeacherInputBuilder.prompts(odd, numbering: .official) ==
            ["<s1> </s> Now <s1> feels", "<s1>  <s2> </s> Now <s2> feels"])
    }

    @Test func keepsTheLastTokensThenMask() throws {
        let tokenizer = try RobertaTokenizer.telme(directory: try TestData.fixtures.appendingPathComponent("tiny"))
        var full = try TeacherInputBuilder(tokenizer: tokenizer, maxTextTokens: 511)
        var short = try TeacherInputBuilder(tokenizer: tokenizer, maxTextTokens: 3)
        let turn = [DialogueTurn(dialogue: "d", speaker: "a", text: "the hello")]
        // "<s1> the hello </s> Now <s1> feels": <s1> t he Ġ hello Ġ </s> Ġ N o w <s1> f e e l s, <mask>
        let all = full.inputIDs(turn, numbering: .official)[0]
        #expect(all.count == 18)
        #expect(all.first == 274 && all.last == tokenizer.maskID)
        #expect(short.inputIDs(turn, numbering: .official)[0] == Array(all.suffix(4)))
        #expect(throws: TokenizerError.self) { try TeacherInputBuilder(tokenizer: tokenizer, maxTextTokens: 0) }
    }

    @Test func leftPadding() {
        let (ids, mask) = TeacherInputBuilder.leftPad([[5, 6, 7], [8], []], pad: 1)
        #expect(ids == [[5, 6, 7], [1, 1, 8], [1, 1, 1]])
        #expect(mask == [[1, 1, 1], [0, 0, 1], [0, 0, 0]])
        #expect(TeacherInputBuilder.leftPad([], pad: 1).ids.isEmpty)
    }
}
