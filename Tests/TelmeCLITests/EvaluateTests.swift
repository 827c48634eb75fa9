import Foundation
import Testing
import TelmeCLI
import TelmeEvaluation
import TelmePipeline
import TelmeTestSupport

/// `telme evaluate` run in-process on the output of `telme annotate` (the tiny teacher-only
/// model of AnnotateTests), against sklearn's numbers for the PyTorch predictions
/// (Tools/fixtures/evaluation.py writes evaluate-gold.csv and evaluate-expected.json).
@Suite struct EvaluateTests {
    static let fixtures = AnnotateTests.fixtures

    /// evaluate-expected.json: sklearn's scores of the PyTorch predictions, and (as JSON) the
    /// counts and predicted labels.
    static func expected() throws -> (metrics: ExpectedMetrics, counts: [String: Any]) {
        let url = fixtures.appendingPathComponent("evaluate-expected.json")
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return (try decoder.decode(ExpectedMetrics.self, from: Data(contentsOf: url)), try json(url))
    }

    /// An annotation folder of the CLI corpus, official speaker numbering (the reference's).
    static func annotated() async throws -> URL {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        try await AnnotateTests.telme(["annotate", "--model", AnnotateTests.model.path, "--corpus",
                                       fixtures.appendingPathComponent("corpus.csv").path, "--out", out.path,
                                       "--speaker-numbering", "official"])
        return out
    }

    static func json(_ url: URL) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
    }

    @Test func goldCSVMatchesSklearn() async throws {
        let out = try await Self.annotated()
        let gold = Self.fixtures.appendingPathComponent("evaluate-gold.csv").path
        try await AnnotateTests.telme(["evaluate", out.path, "--gold", gold, "--json", "--allow-unknown-gold"])
        let (expected, counts) = try Self.expected()
        let data = try Data(contentsOf: out.appendingPathComponent("evaluation.json"))
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        let e = try decoder.decode(Evaluation.self, from: data)

        // The labels telme gave are PyTorch's (so sklearn's numbers below are for these records).
        let records = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let predicted = try #require(counts["predicted_labels"] as? [String])
        #expect(records.map { $0?["label"] as? String } == predicted)

        #expect(e.gold.kind == "csv")
        #expect(e.gold.path == gold)
        #expect(e.counts.records == counts["records"] as? Int)
        #expect(e.counts.evaluated == counts["evaluated"] as? Int)
        #expect(e.counts.withoutGold == counts["without_gold"] as? Int)
        #expect(e.counts.failed == 0)
        #expect(e.counts.goldRowsWithoutRecord == counts["gold_rows_without_record"] as? Int)
        #expect(e.counts.notInGoldFile == 0)
        #expect(e.counts.goldDisagreements == 7)  // the records' own gold is corpus.csv's
        #expect(e.unknownGoldLabels == [.init(label: "Anger", count: 1)])
        #expect(e.excluded.contains("left out"))

        let m = e.metrics
        #expect(m.labels == expected.classes)
        #expect(m.confusion == expected.confusion)
        #expect(m.classes.map(\.support) == expected.support)
        // Bit-identical to sklearn (the JSON holds shortest round-trip decimals).
        #expect(m.accuracy == expected.accuracy)
        #expect(m.weighted.precision == expected.weighted.precision)
        #expect(m.weighted.recall == expected.weighted.recall)
        #expect(m.weighted.f1 == expected.weighted.f1)
        #expect(m.macro.precision == expected.macro.precision)
        #expect(m.macro.recall == expected.macro.recall)
        #expect(m.macro.f1 == expected.macro.f1)
        #expect(m.classes.map(\.precision) == expected.precision)
        #expect(m.classes.map(\.recall) == expected.recall)
        #expect(m.classes.map(\.f1) == expected.f1)
    }

    @Test func goldFromTheRecords() async throws {
        let out = try await Self.annotated()
        try await AnnotateTests.telme(["evaluate", out.path])
        let e = try Self.json(out.appendingPathComponent("evaluation.json"))
        let counts = try #require(e["counts"] as? [String: Int])
        #expect(counts["records"] == 8)
        #expect(counts["evaluated"] == 8)
        #expect(counts["without_gold"] == 0)
        #expect(counts["not_in_gold_file"] == nil)
        #expect((e["gold"] as? [String: String])?["kind"] == "records")
        // Accuracy and the confusion matrix straight from the records.
        let records = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let labels = AnnotateTests.labels
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: labels.count), count: labels.count)
        for r in records {
            let g = try #require(labels.firstIndex(of: r["gold"] as? String ?? ""))
            let p = try #require(labels.firstIndex(of: r["label"] as? String ?? ""))
            confusion[g][p] += 1
        }
        let metrics = try #require(e["metrics"] as? [String: Any])
        #expect(metrics["confusion"] as? [[Int]] == confusion)
        let correct = records.filter { $0["label"] as? String == $0["gold"] as? String }.count
        #expect(metrics["accuracy"] as? Double == Double(correct) / Double(records.count))
        #expect(metrics["labels"] as? [String] == labels)
    }

    @Test func textAndJSONRunsWriteTheSameFile() async throws {
        let out = try await Self.annotated()
        try await AnnotateTests.telme(["evaluate", out.path])
        let text = try Data(contentsOf: out.appendingPathComponent("evaluation.json"))
        try await AnnotateTests.telme(["evaluate", out.path, "--json"])
        let json = try Data(contentsOf: out.appendingPathComponent("evaluation.json"))
        #expect(text == json)
    }

    @Test func noWriteLeavesTheFolderAlone() async throws {
        let out = try await Self.annotated()
        try await AnnotateTests.telme(["evaluate", out.path, "--no-write", "--json"])
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("evaluation.json").path))
    }

    @Test func brokenRecordIsNamedWithItsLine() async throws {
        let out = try await Self.annotated()
        let url = out.appendingPathComponent("annotations.jsonl")
        var lines = try String(contentsOf: url, encoding: .utf8).split(separator: "\n").map(String.init)
        lines[4] = String(lines[4].prefix(40))
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: url)
        await #expect {
            try await AnnotateTests.telme(["evaluate", out.path])
        } throws: { error in
            String(describing: error).contains(url.path + ":5: not valid JSON")
        }
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("evaluation.json").path))
    }

    @Test func folderWithoutARunIsNamed() async throws {
        let dir = try AnnotateTests.temporaryDirectory()
        await #expect {
            try await AnnotateTests.telme(["evaluate", dir.path])
        } throws: { error in
            String(describing: error).contains(dir.appendingPathComponent("run.json").path + ": cannot read")
        }
    }
}
