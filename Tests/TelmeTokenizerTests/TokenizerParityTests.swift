import Foundation
import Testing
@testable import TelmeTokenizer

/// Ids equal to transformers 4.27.2's, on a made-up vocabulary (always) and the real one.
@Suite struct TokenizerParityTests {
    @Test func tinyVocabularyMatchesTransformers() throws {
        var tokenizer = try RobertaTokenizer.telme(directory: try TestData.fixtures.appendingPathComponent("tiny"))
        let expected = try TestData.cases("tiny/cases.json")
        #expect(tokenizer.count == expected.count)
        #expect(expected.cases.count > 10)
        for item in expected.cases {
            #expect(tokenizer.encode(item.text) == item.ids, "\(item.text.debugDescription)")
            #expect(tokenizer.tokenize(item.text) == item.tokens, "\(item.text.debugDescription)")
        }
    }

    @Test(.enabled(if: TestData.hasRoberta, TestData.noRoberta))
    func robertaMatchesTransformersOnTrickyStrings() throws {
        var tokenizer = try TestData.roberta.get()
        let expected = try TestData.cases("roberta_cases.json")
        #expect(expected.cases.count > 50)
        for item in expected.cases {
            let ids = tokenizer.encode(item.text)
            #expect(ids == item.ids, "\(item.text.debugDescription): \(tokenizer.tokenize(item.text))")
        }
    }

    /// The worked example of TELME_REFERENCE.md ("Text input").
    @Test(.enabled(if: TestData.hasRoberta, TestData.noRoberta))
    func referenceWorkedExample() throws {
        let tokenizer = try TestData.roberta.get()
        var builder = try TeacherInputBuilder(tokenizer: tokenizer)
        let turns = [
            DialogueTurn(dialogue: "0", speaker: "Chandler", text: "also I was the point person on my companys transition."),
            DialogueTurn(dialogue: "0", speaker: "The Interviewer", text: "You mustve had your hands full."),
        ]
        let ids = builder.inputIDs(turns, numbering: .official)
        #expect(ids[1] == [50265, 19726, 38, 21, 5, 477, 621, 15, 127, 40005, 2459, 3868, 4, 50266, 1185, 531, 548, 56,
                           110, 1420, 455, 4, 1437, 2, 978, 50266, 7068, 2507, 50264])
        #expect(tokenizer.count == 50274)
        #expect(tokenizer.vocabularySize == 50265)
        #expect(tokenizer.maskID == 50264 && tokenizer.padID == 1 && tokenizer.eosID == 2 && tokenizer.bosID == 0)
        #expect(RobertaTokenizer.telmeSpeakerTokens.map { tokenizer.id(of: $0) } == (50265...50273).map { $0 })
        #expect(tokenizer.tokenize("full. </s> Now") == ["full", ".", "Ġ", "</s>", "ĠNow"])
    }
}
