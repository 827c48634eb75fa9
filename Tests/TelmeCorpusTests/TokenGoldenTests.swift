import Foundation
import Testing
@testable import TelmeCorpus
import TelmeTestSupport
import TelmeTokenizer

/// Every utterance of the six TelME CSVs, both speaker numberings, against the ids that
/// transformers 4.27.2 gives (Tests/TelmeCorpusTests/Fixtures/token_golden, made by
/// Tools/fixtures/token_golden.py).
@Suite struct TokenGoldenTests {
    static let shared = TestPaths.shared
    static let available = FileManager.default.fileExists(
        atPath: shared.appendingPathComponent("tokenizers/roberta/vocab.json").path)

    /// Loaded once for all six files.
    static let tokenizer = Result {
        try RobertaTokenizer.telme(directory: shared.appendingPathComponent("tokenizers/roberta"))
    }

    static let csvs: [(layout: CorpusLayout, path: String)] = [
        (.meld, "data/meld/dev_meld_emo.csv"), (.meld, "data/meld/test_meld_emo.csv"),
        (.meld, "data/meld/train_meld_emo.csv"), (.iemocap, "data/iemocap/IEMOCAP_dev.csv"),
        (.iemocap, "data/iemocap/IEMOCAP_test.csv"), (.iemocap, "data/iemocap/IEMOCAP_train.csv"),
    ]

    /// One golden line: dialogue, index, and (count, hash) per numbering.
    struct Expected {
        var dialogue: String
        var index: Int
        var official: String
        var dialogueNumbering: String
    }

    static func golden(_ name: String) throws -> [Expected] {
        let url = try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
            .appendingPathComponent("token_golden/\(name).txt")
        let text = try String(contentsOf: url, encoding: .utf8)
        var expected: [Expected] = []
        var dialogue = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) where !line.hasPrefix("#") {
            if line.hasPrefix("D ") {
                dialogue = String(line.dropFirst(2))
                continue
            }
            let parts = line.split(separator: " ")
            let index = try #require(Int(parts[0]), "bad golden line \(line)")
            let official = String(parts[1])
            expected.append(Expected(dialogue: dialogue, index: index, official: official,
                                     dialogueNumbering: parts[2] == "=" ? official : String(parts[2])))
        }
        return expected
    }

    /// `<count>:<FNV-1a 64 of the ids joined by ','>`, as the script writes it.
    static func digest(_ ids: [Int]) -> String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in ids.map(String.init).joined(separator: ",").utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        let hex = String(hash, radix: 16)
        return "\(ids.count):" + String(repeating: "0", count: 16 - hex.count) + hex
    }

    @Test(.enabled(if: available, "needs ../shared (the TelME CSVs and the RoBERTa vocabulary), absent here"),
          arguments: csvs)
    func everyUtteranceMatchesTransformers(layout: CorpusLayout, path: String) throws {
        let url = Self.shared.appendingPathComponent(path)
        let corpus = try Corpus(contentsOf: url, layout: layout)
        #expect(corpus.warnings.isEmpty, "\(corpus.warnings)")
        let expected = try Self.golden(url.deletingPathExtension().lastPathComponent)
        try #require(corpus.utterances.count == expected.count)

        var builder = try TeacherInputBuilder(tokenizer: try Self.tokenizer.get())
        for numbering in SpeakerNumbering.allCases {
            let ids = builder.inputIDs(corpus.turns, numbering: numbering)
            let prompts = TeacherInputBuilder.prompts(corpus.turns, numbering: numbering)
            for (k, utterance) in corpus.utterances.enumerated() {
                let want = expected[k]
                let wantDigest = numbering == .official ? want.official : want.dialogueNumbering
                let got = Self.digest(ids[k])
                guard utterance.dialogue == want.dialogue, utterance.index == want.index, got == wantDigest else {
                    Issue.record("""
                        \(path):\(utterance.line) (\(numbering)): dialogue \(utterance.dialogue) utterance \(utterance.index) \
                        gives \(got), expected dialogue \(want.dialogue) utterance \(want.index) \(wantDigest)
                        prompt: \(prompts[k].debugDescription)
                        ids: \(ids[k])
                        """)
                    return // the first mismatch says it all
                }
            }
        }
    }
}
