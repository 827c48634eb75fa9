import Foundation
import Testing
@testable import TelmeTokenizer
import TelmeTestSupport

/// The input ids built from a turn's most recent turns (`inputIDs(turn:of:context:)`) against
/// the definition: the whole prompt tokenised, its last `maxTextTokens` ids kept. Small windows
/// force a cut at almost every turn; the texts and speakers are chosen to defeat the cut rules
/// (speaker tokens in the text, `<s10>` and above, whitespace-only texts, texts ending in a
/// speaker token or in whitespace that Python strips but the pre-tokeniser does not).
@Suite struct WindowedInputTests {
    static let texts = [
        "", " ", "  ", "\u{a0}", "\u{1c}", "\n", "\t x", "Hello, Ann.", "Who? ", "<s3>", "foo <s2>", "bar<s9>  ",
        "x>", "<s10>", "<s", "s1>", "<mask>", "a <mask> b", "'s", "123 456", "naïve café", "🙂🙂", "</s>", "<pad> ",
        "Okay. Okay. Okay. Okay. Okay. Okay.", "end with space ", "<s1><s2>", ">", "<", "Ġ", "\u{2028}", "-- --",
    ]

    static func dialogues(seed: UInt64, speakers: Int) -> [DialogueTurn] {
        var random = SplitMix64(seed: seed)
        var turns: [DialogueTurn] = []
        for d in 0..<4 {
            for _ in 0..<Int.random(in: 1...120, using: &random) {
                turns.append(DialogueTurn(dialogue: "d\(d)", speaker: "p\(Int.random(in: 0..<speakers, using: &random))",
                                          text: texts.randomElement(using: &random)!))
            }
        }
        return turns
    }

    @Test(.enabled(if: TestData.hasRoberta, TestData.noRoberta),
          arguments: [(UInt64(1), 3), (2, 12), (3, 40), (4, 200)], [1, 7, 40, 511])
    func sameIDsAsTheWholePrompt(case: (seed: UInt64, speakers: Int), window: Int) throws {
        var tokenizer = try TestData.roberta.get()
        var builder = try TeacherInputBuilder(tokenizer: tokenizer, maxTextTokens: window)
        let turns = Self.dialogues(seed: `case`.seed, speakers: `case`.speakers)
        for numbering in SpeakerNumbering.allCases {
            let prompts = TeacherInputBuilder.prompts(turns, numbering: numbering)
            let windowed = builder.inputIDs(turns, numbering: numbering)
            for k in turns.indices {
                let whole = Array(tokenizer.encode(prompts[k]).suffix(window)) + [tokenizer.maskID]
                guard windowed[k] == whole else {
                    let message = "turn \(k) (\(numbering), window \(window)): \(prompts[k].debugDescription)\n"
                        + "windowed \(windowed[k])\nwhole    \(whole)"
                    Issue.record(Comment(rawValue: message))
                    return
                }
            }
        }
    }

    /// The invariant the window rests on, checked at every cut it may use: the ids of the
    /// prompt from a cut on are a suffix of the whole prompt's ids. (The test above sees a wrong
    /// cut only when the differing token lands inside the window.)
    @Test(.enabled(if: TestData.hasRoberta, TestData.noRoberta), arguments: [UInt64(5), 6, 7])
    func theTokensFromACutAreASuffix(seed: UInt64) throws {
        var tokenizer = try TestData.roberta.get()
        let turns = Self.dialogues(seed: seed, speakers: 30)
        for numbering in SpeakerNumbering.allCases {
            let context = TeacherInputBuilder.Context(turns, numbering: numbering)
            let prompts = TeacherInputBuilder.prompts(turns, numbering: numbering)
            var cuts = 0
            for k in stride(from: 0, to: turns.count, by: 5) {
                let whole = tokenizer.encode(prompts[k])
                let first = context.dialogueStart[k]
                for j in max(first + 1, k - 25)..<(k + 1)
                where TeacherInputBuilder.isCut(at: j, of: turns, numbers: context.numbers) {
                    let part = tokenizer.encode(TeacherInputBuilder.prompt(turns, numbers: context.numbers, from: j, to: k,
                                                                           whole: false))
                    cuts += 1
                    guard whole.count >= part.count, Array(whole.suffix(part.count)) == part else {
                        Issue.record(Comment(rawValue: "cut at \(j) for turn \(k) (\(numbering)): \(prompts[k].debugDescription)"))
                        return
                    }
                }
            }
            #expect(cuts > 100)
        }
    }

    /// The point of the window: a turn deep in a long dialogue tokenises only its recent turns.
    @Test func aLateTurnReadsOnlyRecentTurns() throws {
        let tokenizer = try RobertaTokenizer.telme(directory: try TestData.fixtures.appendingPathComponent("tiny"))
        var builder = try TeacherInputBuilder(tokenizer: tokenizer, maxTextTokens: 511)
        let turns = (0..<5000).map { DialogueTurn(dialogue: "d", speaker: "s\($0 % 3)", text: "hello the hello") }
        let context = TeacherInputBuilder.Context(turns, numbering: .official)
        let last = builder.inputIDs(turn: 4999, of: turns, context: context)
        #expect(last.count == 512)
        // The prompt it was built from: at most the 2 x 512 most recent turns (doubling spans).
        var j = 4999 - 1023
        while !TeacherInputBuilder.isCut(at: j, of: turns, numbers: context.numbers) { j -= 1 }
        #expect(j > 3900)
        let prompt = TeacherInputBuilder.prompt(turns, numbers: context.numbers, from: j, to: 4999, whole: false)
        #expect(prompt.utf8.count < 30_000)
    }
}
