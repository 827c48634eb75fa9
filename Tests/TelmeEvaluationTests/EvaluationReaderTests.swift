import Foundation
import Testing
import TelmeCorpus
@testable import TelmeEvaluation
import TelmePipeline

/// Reading annotation folders for `telme evaluate`: counts, gold from the records or a CSV,
/// and refusal of broken files with their line.
@Suite struct EvaluationReaderTests {
    static let labels = ["anger", "joy", "neutral"]

    static func folder(records: [AnnotationRecord], labels: [String] = labels, extraLines: [String] = []) throws -> URL {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("telme-eval-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let run = try JSONSerialization.data(withJSONObject: ["model": ["labels": labels], "tool": "telme"])
        try run.write(to: dir.appendingPathComponent("run.json"))
        let lines = records.map { RecordFormat.jsonObject($0, labels: labels) } + extraLines
        try Data(lines.map { $0 + "\n" }.joined().utf8).write(to: dir.appendingPathComponent("annotations.jsonl"))
        return dir
    }

    static func record(_ dialogue: String, _ utterance: Int, label: String?, gold: String?,
                       status: RecordStatus = .ok) -> AnnotationRecord {
        AnnotationRecord(source: "c.csv", dialogue: dialogue, utterance: utterance, speaker: "A", text: "t",
                         label: label, confidence: label == nil ? nil : 0.5, probabilities: label == nil ? [] : [0.2, 0.3, 0.5],
                         gold: gold, status: label == nil ? .failed : status, message: label == nil ? "broken" : "")
    }

    static let mixed: [AnnotationRecord] = [
        record("0", 0, label: "joy", gold: "joy"),
        record("0", 1, label: "neutral", gold: "anger", status: .degraded),
        record("0", 2, label: nil, gold: "joy"),                 // failed
        record("1", 0, label: "neutral", gold: nil),             // no gold
        record("1", 1, label: "neutral", gold: "neutral"),
        record("1", 2, label: "joy", gold: "Neutral"),           // not a model label
    ]

    @Test func goldFromTheRecords() throws {
        let e = try Evaluation.evaluate(directory: try Self.folder(records: Self.mixed), allowUnknownGold: true)
        #expect(e.gold.kind == "records")
        #expect(e.counts.records == 6)
        #expect(e.counts.evaluated == 4)
        #expect(e.counts.degraded == 1)
        #expect(e.counts.failed == 1)
        #expect(e.counts.withoutGold == 1)
        #expect(e.counts.notInGoldFile == nil)
        #expect(e.modelLabels == Self.labels)
        #expect(e.unknownGoldLabels == [.init(label: "Neutral", count: 1)])
        #expect(e.metrics.labels == Self.labels + ["Neutral"])
        #expect(e.metrics.accuracy == 0.5)
        #expect(e.metrics.confusion == [[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 1, 0, 0]])
        let expected = try #require(ClassificationMetrics(
            pairs: [("joy", "joy"), ("anger", "neutral"), ("neutral", "neutral"), ("Neutral", "joy")], labels: Self.labels))
        #expect(e.metrics == expected)
    }

    func goldCSV(_ text: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("telme-gold-\(UUID().uuidString).csv")
        try Data(text.utf8).write(to: url)
        return url
    }

    @Test func goldFromACSVMatchedByDialogueAndIndex() throws {
        // Utterance_ID skips 1 in dialogue 0: matching is by position in the dialogue, as records count.
        // Dialogue 5 has no record; (1, 2) has no row.
        let csv = try goldCSV("""
            Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID
            a,A,joy,0,0
            b,A,neutral,0,2
            c,A,joy,0,3
            d,A,,1,0
            e,A,joy,1,1
            f,A,anger,5,0

            """)
        let e = try Evaluation.evaluate(directory: try Self.folder(records: Self.mixed), goldCSV: csv,
                                        allowUnknownGold: true)
        #expect(e.gold.kind == "csv")
        #expect(e.gold.path == csv.path)
        // (0,0) joy/joy; (0,1) neutral/neutral; (0,2) failed; (1,0) no gold in CSV; (1,1) joy/neutral; (1,2) no row
        #expect(e.counts.evaluated == 3)
        #expect(e.counts.failed == 1)
        #expect(e.counts.withoutGold == 2)
        #expect(e.counts.notInGoldFile == 1)
        #expect(e.counts.goldRowsWithoutRecord == 1)
        #expect(e.counts.goldDisagreements == 2)  // (0,1) anger vs neutral, (1,1) neutral vs joy
        #expect(e.warnings.contains { $0.contains("annotations.jsonl:2") && $0.contains("differs") })
        #expect(e.unknownGoldLabels.isEmpty)
        #expect(e.metrics.correct == 2)
        #expect(e.metrics.confusion == [[0, 0, 0], [0, 1, 1], [0, 0, 1]])
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(Evaluation.self, from: e.json()) == e)
    }

    @Test func aDialogueThatComesBackIsMatchedByOccurrence() throws {
        let records = [
            Self.record("7", 0, label: "joy", gold: nil), Self.record("7", 1, label: "joy", gold: nil),
            Self.record("8", 0, label: "anger", gold: nil),
            Self.record("7", 0, label: "neutral", gold: nil),
        ]
        let csv = try goldCSV("""
            Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID
            a,A,joy,7,0
            b,A,anger,7,1
            c,A,anger,8,0
            d,A,neutral,7,2

            """)
        let e = try Evaluation.evaluate(directory: try Self.folder(records: records), goldCSV: csv)
        #expect(e.metrics.correct == 3)  // joy/joy, anger/joy (wrong), anger/anger, neutral/neutral
        #expect(e.counts.evaluated == 4)
        #expect(e.counts.goldRowsWithoutRecord == 0)
        #expect(e.warnings.contains { $0.contains("comes back") })      // the corpus reader's
        #expect(e.warnings.contains { $0.contains("more than once") })  // ours
    }

    @Test func nothingToScoreIsAnError() throws {
        let dir = try Self.folder(records: [Self.record("0", 0, label: "joy", gold: nil),
                                            Self.record("0", 1, label: nil, gold: "joy")])
        #expect {
            try Evaluation.evaluate(directory: dir)
        } throws: { error in
            let text = String(describing: error)
            return text.contains("annotations.jsonl") && text.contains("1 failed, 1 without gold") && text.contains("--gold")
        }
    }

    /// Broken lines: each gives an error naming the file and its line (line 3: two good records first).
    @Test(arguments: [
        ("{\"dialogue\":", "not valid JSON"),
        ("[1,2,3]", "not a JSON object"),
        ("\"just a string\"", "not a JSON object"),
        ("null", "not a JSON object"),
        (#"{"dialogue":"0","utterance":"3","label":"joy","gold":null,"status":"ok"}"#, "\"utterance\" is not an integer"),
        (#"{"dialogue":"0","utterance":1.5,"label":"joy","gold":null,"status":"ok"}"#, "\"utterance\" is not an integer"),
        (#"{"dialogue":"0","utterance":true,"label":"joy","gold":null,"status":"ok"}"#, "\"utterance\" is not an integer"),
        (#"{"dialogue":"0","utterance":-1,"label":"joy","gold":null,"status":"ok"}"#, "negative"),
        (#"{"dialogue":"0","utterance":99999999999999999999999,"label":"joy","gold":null,"status":"ok"}"#, "\"utterance\" is not an integer"),
        (#"{"dialogue":0,"utterance":1,"label":"joy","gold":null,"status":"ok"}"#, "\"dialogue\" is not a string"),
        (#"{"dialogue":"0","utterance":1,"gold":null,"status":"ok"}"#, "no field \"label\""),
        (#"{"dialogue":"0","utterance":1,"label":"joy","status":"ok"}"#, "no field \"gold\""),
        (#"{"dialogue":"0","utterance":1,"label":"joy","gold":null,"status":"fine"}"#, "\"status\" is \"fine\""),
        (#"{"dialogue":"0","utterance":1,"label":"happy","gold":null,"status":"ok"}"#, "label \"happy\" is not one of the model's labels"),
        (#"{"dialogue":"0","utterance":1,"label":["joy"],"gold":null,"status":"ok"}"#, "\"label\" is not a string"),
        (#"{"dialogue":null,"utterance":1,"label":"joy","gold":null,"status":"ok"}"#, "\"dialogue\" is null"),
        (String(repeating: "[", count: 100_000), "not valid JSON"),
        ("{\"dialogue\":\"0\u{0}\"}", "not valid JSON"),
    ])
    func brokenLineIsNamed(line: String, message: String) throws {
        let dir = try Self.folder(records: Array(Self.mixed.prefix(2)), extraLines: [line, "{}"])
        #expect {
            try Evaluation.evaluate(directory: dir)
        } throws: { error in
            let text = String(describing: error)
            return text.contains(dir.appendingPathComponent("annotations.jsonl").path + ":3: ") && text.contains(message)
        }
    }

    @Test func invalidUTF8IsALineError() throws {
        let dir = try Self.folder(records: Array(Self.mixed.prefix(1)))
        let url = dir.appendingPathComponent("annotations.jsonl")
        var data = try Data(contentsOf: url)
        data += Data(#"{"dialogue":"0"#.utf8) + Data([0xFF, 0xFE]) + Data(#"","utterance":1,"label":"joy","gold":null,"status":"ok"}"#.utf8)
        try data.write(to: url)
        #expect(throws: EvaluationError.self) { try Evaluation.evaluate(directory: dir) }
        do {
            _ = try Evaluation.evaluate(directory: dir)
        } catch let error as EvaluationError {
            #expect(error.line == 2)
            #expect(error.description.contains("was the run interrupted?"))  // the last line, without its newline
        }
    }

    @Test func blankLinesAndCRLFAreAccepted() throws {
        let dir = try Self.folder(records: Self.mixed)
        let url = dir.appendingPathComponent("annotations.jsonl")
        let text = try String(contentsOf: url, encoding: .utf8)
        try Data(("\n  \n" + text.replacingOccurrences(of: "\n", with: "\r\n") + "\r\n\n").utf8).write(to: url)
        let e = try Evaluation.evaluate(directory: dir, allowUnknownGold: true)
        #expect(e.counts.records == 6)
        #expect(e.counts.evaluated == 4)
    }

    @Test(arguments: [
        (nil as String?, "cannot read the run description"),
        ("{", "model.labels"),
        (#"{"model":{}}"#, "no field \"model.labels\""),
        (#"{"model":{"labels":[]}}"#, "model.labels is empty"),
        (#"{"model":{"labels":["a","a"]}}"#, "\"a\" twice"),
        (#"{"model":{"labels":"abc"}}"#, "\"model.labels\" is not an array"),
    ])
    func brokenRunJSONIsNamed(content: String?, message: String) throws {
        let dir = try Self.folder(records: Self.mixed)
        let url = dir.appendingPathComponent("run.json")
        if let content { try Data(content.utf8).write(to: url) } else { try FileManager.default.removeItem(at: url) }
        #expect {
            try Evaluation.evaluate(directory: dir)
        } throws: { error in
            let text = String(describing: error)
            return text.hasPrefix(url.path + ": ") && text.contains(message)
        }
    }

    @Test func missingAnnotationsAreNamed() throws {
        let dir = try Self.folder(records: [])
        try FileManager.default.removeItem(at: dir.appendingPathComponent("annotations.jsonl"))
        #expect {
            try Evaluation.evaluate(directory: dir)
        } throws: { error in
            String(describing: error).contains("annotations.jsonl: cannot read the annotations")
        }
    }

    @Test func randomBytesNeverCrash() throws {
        var generator = SystemRandomNumberGenerator()
        let dir = try Self.folder(records: Self.mixed)
        let url = dir.appendingPathComponent("annotations.jsonl")
        let good = try Data(contentsOf: url)
        let alphabet = Array(#"{}[]":,0123456789.-eE truefalsnul\"#.utf8) + [0x0A, 0x00, 0xFF, 0xC3]
        for _ in 0..<300 {
            var data = good
            for _ in 0..<Int.random(in: 1...8, using: &generator) {
                let i = Int.random(in: 0..<data.count, using: &generator)
                data[i] = alphabet.randomElement(using: &generator)!
            }
            try data.write(to: url)
            do {
                _ = try Evaluation.evaluate(directory: dir)
            } catch let error as EvaluationError {
                #expect(error.file == url.path || error.file.hasSuffix("run.json"))
            }
        }
    }

    /// A gold label the model does not have is refused by default, naming the record's line.
    @Test func unknownGoldIsRefused() throws {
        let dir = try Self.folder(records: Self.mixed)
        do {
            _ = try Evaluation.evaluate(directory: dir)
            Issue.record("accepted a gold label that is not a model label")
        } catch let error as EvaluationError {
            #expect(error.file.hasSuffix("annotations.jsonl"))
            #expect(error.message.contains("\"Neutral\""))
            #expect(error.message.contains("annotations.jsonl:6"))
            #expect(error.message.contains("--allow-unknown-gold"))
        }
    }

    /// Lines appended twice (a duplicated record) are counted once.
    @Test func repeatedLinesCountOnce() throws {
        let clean = Array(Self.mixed.prefix(2))
        let once = try Evaluation.evaluate(directory: try Self.folder(records: clean))
        let lines = clean.map { RecordFormat.jsonObject($0, labels: Self.labels) }
        let twice = try Evaluation.evaluate(directory: try Self.folder(records: clean, extraLines: lines + [lines[0]]))
        #expect(once.counts.records == 2)
        #expect(twice.counts.records == 2)
        #expect(twice.counts.repeatedLines == 3)
        #expect(twice.metrics == once.metrics)
        #expect(twice.warnings.contains { $0.contains("annotations.jsonl:3: repeats line 1 exactly; 3 repeated lines") })
    }

    @Test func textReport() throws {
        let e = try Evaluation.evaluate(directory: try Self.folder(records: Self.mixed), allowUnknownGold: true)
        let text = e.text()
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        #expect(lines.contains("records: 6  evaluated: 4 (1 degraded)  failed: 1  without gold: 1"))
        #expect(lines.contains("accuracy     0.5000  (2/4)"))
        #expect(lines.contains { $0.hasPrefix("weighted F1  0.3333") })
        #expect(text.contains("\"Neutral\" (1)"))
        #expect(text.contains("left out of every score"))
        // Fixed-width table: every row of a block has the same width up to its notes.
        #expect(lines.contains("class          precision    recall        f1  support  predicted"))
        #expect(lines.contains("joy               0.5000    1.0000    0.6667        1          2"))
        #expect(lines.contains("Neutral           0.0000    0.0000    0.0000        1          0"))
        #expect(lines.contains("                  anger      joy  neutral  Neutral"))
        #expect(lines.contains("anger                 0        0        1        0"))
        #expect(text.hasSuffix("\n"))
    }

    @Test func jsonRoundTripsAndUsesSnakeCase() throws {
        let e = try Evaluation.evaluate(directory: try Self.folder(records: Self.mixed), allowUnknownGold: true)
        let data = try e.json()
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect((object["counts"] as? [String: Int])?["without_gold"] == 1)
        #expect(((object["metrics"] as? [String: Any])?["weighted"] as? [String: Double])?["f1"] == e.metrics.weighted.f1)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        #expect(try decoder.decode(Evaluation.self, from: data) == e)
    }
}
