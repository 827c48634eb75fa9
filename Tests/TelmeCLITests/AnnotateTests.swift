import Foundation
import Testing
import TelmeCLI
import TelmeCorpus
import TelmeImport
import ArgumentParser

/// `telme annotate` on a tiny teacher-only model, against PyTorch
/// (Tools/fixtures/cli.py writes the fixtures and the reference).
@Suite struct AnnotateTests {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    let corpus = fixtures.appendingPathComponent("corpus.csv").path

    struct Reference: Decodable {
        struct Utterance: Decodable {
            var ids: [Int]
            var probabilities: [Double]
            var label: Int
        }
        var official: [Utterance]
        var dialogue: [Utterance]
    }

    static let labels = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]

    /// Runs a telme command in-process.
    static func telme(_ arguments: [String]) async throws {
        var command = try TelmeCommand.parseAsRoot(arguments)
        if var command = command as? AsyncParsableCommand {
            try await command.run()
        } else {
            try command.run()
        }
    }

    /// A JSONL record without the fields that place it in its transcript (file, cue, line),
    /// which a reordered copy of the corpus changes.
    static func withoutPlace(_ line: String) -> String {
        line.replacingOccurrences(of: #""transcript":"[^"]*","cue":[0-9]+,"line":[0-9]+,"#, with: "",
                                  options: .regularExpression)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("telme-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The fixture model converted by the real converter.
    static let model: URL = {
        let out = try! temporaryDirectory().appendingPathComponent("text-meld.telme")
        _ = try! TelmeImporter.convert(input: fixtures.appendingPathComponent("text-meld.h5"), output: out,
                                       options: ConversionOptions(converterVersion: "test"))
        return out
    }()

    func annotate(_ extra: [String] = []) async throws -> URL {
        let out = try Self.temporaryDirectory().appendingPathComponent("out")
        try await Self.telme(["annotate", "--model", Self.model.path, "--corpus", corpus, "--out", out.path] + extra)
        return out
    }

    func records(_ out: URL) throws -> [[String: Any]] {
        let text = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
        return try text.split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
    }

    func reference() throws -> Reference {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("text-meld-reference.json"))
        return try JSONDecoder().decode(Reference.self, from: data)
    }

    @Test(arguments: ["official", "dialogue"])
    func probabilitiesMatchPyTorch(numbering: String) async throws {
        let out = try await annotate(["--speaker-numbering", numbering])
        let got = try records(out)
        let expected = numbering == "official" ? try reference().official : try reference().dialogue
        #expect(got.count == expected.count)
        var worst = 0.0
        for (record, ref) in zip(got, expected) {
            #expect(record["label"] as? String == Self.labels[ref.label])
            #expect(record["text_label"] as? String == Self.labels[ref.label])
            #expect(record["status"] as? String == "ok")
            for (i, name) in Self.labels.enumerated() {
                let p = try #require(record["p_\(name)"] as? Double)
                worst = max(worst, abs(p - ref.probabilities[i]))
            }
        }
        // Measured: 4.6e-8 (float32 logits, softmax in double).
        #expect(worst < 1e-6, "largest probability difference \(worst)")
    }

    @Test func recordsCarryTheCorpusFields() async throws {
        let out = try await annotate()
        let got = try records(out)
        let corpus = try Corpus(contentsOf: URL(fileURLWithPath: corpus), layout: .meld)
        for (record, u) in zip(got, corpus.utterances) {
            #expect(record["text"] as? String == u.text)
            #expect(record["dialogue"] as? String == u.dialogue)
            #expect(record["utterance"] as? Int == u.index)
            #expect(record["speaker"] as? String == u.speaker)
            #expect(record["gold"] as? String == u.gold)
            #expect(record["start"] as? Double == u.startSeconds)
        }
        // The CSV holds the same records, quoted so that a CSV reader gets the texts back.
        let rows = try CSVReader.read(contentsOf: out.appendingPathComponent("annotations.csv")).rows
        #expect(rows.count == got.count + 1)
        let textColumn = try #require(rows[0].fields.firstIndex(of: "text"))
        #expect(rows.dropFirst().map { $0.fields[textColumn] } == corpus.utterances.map(\.text))
        let run = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("run.json"))) as! [String: Any]
        #expect((run["counts"] as? [String: Int])?["ok"] == corpus.utterances.count)
    }

    @Test func labelsDoNotDependOnBatchSize() async throws {
        // Padding to another length changes the floats in the last bits (the products run over
        // other shapes), never the labels; batches are formed within a dialogue, so a given
        // command is deterministic (see `rerunIsByteIdentical`).
        let one = try records(try await annotate(["--batch-size", "1"]))
        let many = try records(try await annotate(["--batch-size", "16"]))
        #expect(one.map { $0["label"] as? String } == many.map { $0["label"] as? String })
        var worst = 0.0
        for (a, b) in zip(one, many) {
            for name in Self.labels {
                worst = max(worst, abs((a["p_\(name)"] as? Double ?? .nan) - (b["p_\(name)"] as? Double ?? .nan)))
            }
        }
        #expect(worst < 1e-6, "largest probability difference \(worst)")
    }

    @Test func rerunIsByteIdentical() async throws {
        let first = try await annotate()
        let second = try await annotate()
        for name in ["annotations.csv", "annotations.jsonl"] {
            let a = try Data(contentsOf: first.appendingPathComponent(name))
            let b = try Data(contentsOf: second.appendingPathComponent(name))
            #expect(a == b, "\(name) differs between two identical runs")
        }
    }

    @Test func missingCorpusIsNamed() async throws {
        let out = try Self.temporaryDirectory()
        await #expect {
            try await Self.telme(["annotate", "--model", Self.model.path, "--corpus", "/nonexistent/c.csv",
                                  "--out", out.path])
        } throws: { error in
            String(describing: error).contains("/nonexistent/c.csv")
        }
    }

    @Test func brokenRowIsNamedWithItsLine() async throws {
        let dir = try Self.temporaryDirectory()
        let bad = dir.appendingPathComponent("bad.csv")
        try "Utterance,Speaker,Dialogue_ID,Utterance_ID\nHi,Ana,0,0\nextra,field,0,1,9\n".write(to: bad, atomically: true, encoding: .utf8)
        await #expect {
            try await Self.telme(["annotate", "--model", Self.model.path, "--corpus", bad.path,
                                  "--out", dir.appendingPathComponent("out").path])
        } throws: { error in
            String(describing: error).contains("bad.csv:3")
        }
    }
}
