import ArgumentParser
import Foundation
import Testing
import TelmeCLI
import TelmeImport
import TelmeTestSupport

/// `telme annotate` with media: a tiny full model (`SharedFixtures`' tiny-meld)
/// over real clips that are fine, short, silent, missing, truncated, empty or over 30 s
/// (Tools/fixtures/cli_media.sh).
@Suite struct AnnotateMediaTests {
    static let media = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/media")
    static let corpus = media.appendingPathComponent("corpus.csv").path
    static let clips = media.appendingPathComponent("clips").path

    static let model: URL = {
        let h5 = try! SharedFixtures.url("tiny-meld/model.h5")
        let out = try! AnnotateTests.temporaryDirectory().appendingPathComponent("tiny-meld.telme")
        _ = try! TelmeImporter.convert(input: h5, output: out, options: ConversionOptions(converterVersion: "test"))
        return out
    }()

    /// Runs annotate; returns the records keyed by "dialogue/utterance" and whether it exited 1.
    func annotate(corpus: String = corpus, _ extra: [String] = []) async throws
        -> (records: [String: [String: Any]], lines: [String: String], degraded: Bool) {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        var degraded = false
        do {
            try await AnnotateTests.telme(["annotate", "--model", Self.model.path, "--corpus", corpus,
                                           "--media", Self.clips, "--out", out.path] + extra)
        } catch let code as ExitCode where code.rawValue == 1 {
            degraded = true
        }
        let text = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
        var records: [String: [String: Any]] = [:], lines: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let key = "\(record["dialogue"] as! String)/\(record["utterance"] as! Int)"
            records[key] = record
            lines[key] = String(line)
        }
        return (records, lines, degraded)
    }

    func statuses(_ r: [String: Any]?) -> [String] {
        ["audio_status", "video_status", "status"].map { r?[$0] as? String ?? "?" }
    }

    @Test func everyUtteranceGetsARecordWithItsStatus() async throws {
        let (records, _, degraded) = try await annotate()
        #expect(records.count == 11)
        #expect(degraded, "some utterances are degraded, so the exit status is 1")
        for key in ["0/0", "0/1", "0/2", "1/0", "2/2"] {
            #expect(statuses(records[key]) == ["ok", "ok", "ok"], "\(key)")
        }
        #expect(statuses(records["1/1"]) == ["ok", "ok", "ok"], "4 frames: the last one is repeated")
        #expect(statuses(records["1/2"]) == ["missing", "ok", "degraded"], "no audio stream")
        #expect(statuses(records["1/3"]) == ["missing", "missing", "degraded"], "no clip")
        #expect(statuses(records["2/0"]) == ["zeroed", "zeroed", "degraded"], "over 30 s")
        #expect((records["2/0"]?["message"] as? String)?.contains("over 30 s") == true)
        #expect(statuses(records["2/1"]).last == "degraded", "truncated mp4")
        #expect(records["2/1"]?["audio_status"] as? String == "error")
        #expect(statuses(records["2/3"]) == ["error", "error", "degraded"], "zero-byte file")
        // Text-only predictions are the teacher's; every label is the arg max of its probabilities.
        for key in ["1/2", "1/3", "2/1", "2/3"] {
            let r = try #require(records[key])
            #expect(r["label"] as? String == r["text_label"] as? String, "\(key)")
            #expect((r["message"] as? String)?.contains("text-only prediction") == true, "\(key)")
        }
        for (key, r) in records {
            let p = AnnotateTests.labels.map { r["p_\($0)"] as? Double ?? -1 }
            let best = AnnotateTests.labels[p.firstIndex(of: p.max()!)!]
            #expect(r["label"] as? String == best, "\(key)")
            #expect(r["source"] as? String == "dia\(key.replacingOccurrences(of: "/", with: "_utt")).mp4", "relative to --media")
        }
    }

    @Test func zeroPolicyFusesWithZeroInputs() async throws {
        let (records, _, _) = try await annotate(["--missing-media", "zero"])
        #expect(statuses(records["1/3"]) == ["zeroed", "zeroed", "degraded"])
        #expect(statuses(records["1/2"]) == ["zeroed", "ok", "degraded"])
        #expect((records["1/3"]?["message"] as? String)?.contains("text-only") == false)
        #expect(records["1/3"]?["audio_label"] is String, "the audio student ran on zeros")
    }

    @Test func officialBatchesAttendAcrossUtterances() async throws {
        let independent = try await annotate().records
        let official = try await annotate(["--batch-semantics", "official-batch4"]).records
        #expect(official.count == 11)
        #expect(statuses(official["1/3"]) == ["zeroed", "zeroed", "degraded"], "batches of 4 always fuse")
        // Teacher and video student see the same inputs either way (where a clip was read);
        // the fusion does not.
        var differs = false
        for (key, r) in independent {
            #expect(official[key]?["text_label"] as? String == r["text_label"] as? String)
            if let video = r["video_label"] as? String {
                #expect(official[key]?["video_label"] as? String == video, "\(key)")
            }
            if official[key]?["p_joy"] as? Double != r["p_joy"] as? Double { differs = true }
        }
        #expect(differs)
    }

    @Test func recordsDoNotDependOnDialogueOrder() async throws {
        let text = try String(contentsOfFile: Self.corpus, encoding: .utf8)
        var lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let header = lines.removeFirst()
        if lines.last == "" { lines.removeLast() }
        // Dialogues 2, 1, 0 instead of 0, 1, 2 (Dialogue_ID is the second field from the end).
        let dialogue = { (line: String) in line.split(separator: ",").dropLast().last.map(String.init) ?? "" }
        let reordered = [header] + ["2", "1", "0"].flatMap { d in lines.filter { dialogue($0) == d } }
        #expect(reordered.count == lines.count + 1)
        let path = try AnnotateTests.temporaryDirectory().appendingPathComponent("reordered.csv")
        try (reordered.joined(separator: "\n") + "\n").write(to: path, atomically: true, encoding: .utf8)
        let a = try await annotate(["--speaker-numbering", "dialogue"]).lines
        let b = try await annotate(corpus: path.path, ["--speaker-numbering", "dialogue"]).lines
        #expect(a.count == 11 && b.count == 11)
        for (key, line) in a {
            #expect(b[key].map(AnnotateTests.withoutPlace) == AnnotateTests.withoutPlace(line), "\(key)")
            #expect(b[key] != line, "the record says where it is in its transcript")
        }
    }

    @Test func jsonDocumentsHoldEachDialogue() async throws {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        do {
            try await AnnotateTests.telme(["annotate", "--model", Self.model.path, "--corpus", Self.corpus,
                                           "--media", Self.clips, "--out", out.path, "--format", "json,jsonl"])
        } catch {}  // exit status 1: some records are degraded on purpose
        #expect(!FileManager.default.fileExists(atPath: out.appendingPathComponent("annotations.csv").path))
        let lines = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").map(String.init)
        var fromDocuments: [String] = []
        for dialogue in ["0", "1", "2"] {
            let url = out.appendingPathComponent("json/\(dialogue).json")
            let document = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            #expect(document["group"] as? String == dialogue)
            #expect(document["labels"] as? [String] == AnnotateTests.labels)
            let records = document["records"] as! [[String: Any]]
            #expect(records.allSatisfy { $0["dialogue"] as? String == dialogue })
            fromDocuments += try String(contentsOf: url, encoding: .utf8).split(separator: "\n")
                .filter { $0.hasPrefix("    {") }.map { String($0.dropFirst(4).trimmingSuffix(",")) }
        }
        #expect(fromDocuments == lines, "the documents hold the jsonl records, in order")
    }
}

extension Substring {
    func trimmingSuffix(_ suffix: String) -> Substring { hasSuffix(suffix) ? dropLast(suffix.count) : self }
}
