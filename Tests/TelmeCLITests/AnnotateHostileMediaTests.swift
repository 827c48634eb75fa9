import ArgumentParser
import Foundation
import Testing
import TelmeCLI

/// `telme annotate` on hostile media (Tools/fixtures/hostile_media.sh): a wav and an mp4
/// under the wrong extension, audio-only and video-only files, a video stream without frames,
/// a 10-hour silent clip (about 100 KB), absurd times, Latin-1 transcripts, a duplicate id. Every
/// utterance gets a record with the documented statuses, the exit status is 1, and the 10-hour
/// file is never decoded whole (bounded time; before the bound it took over 5 minutes).
/// The truncated, empty, missing, silent and over-30-s clips of the plain MELD fixture are
/// covered by AnnotateMediaTests.
@Suite struct AnnotateHostileMediaTests {
    static let root = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/hostile")

    /// Runs annotate in-process; the records by "dialogue/utterance", the exit status, the seconds taken.
    func annotate(corpus: URL) async throws -> (records: [String: [String: Any]], order: [String], exit: Int32, seconds: Double) {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        var exit: Int32 = 0
        let clock = ContinuousClock()
        let started = clock.now
        do {
            try await AnnotateTests.telme(["annotate", "--model", AnnotateMediaTests.model.path, "--corpus", corpus.path,
                                           "--out", out.path])
        } catch let code as ExitCode {
            exit = code.rawValue
        }
        let elapsed = clock.now - started
        let text = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
        var records: [String: [String: Any]] = [:], order: [String] = []
        for line in text.split(separator: "\n") {
            let record = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            let key = "\(record["dialogue"] as? String ?? "?")/\(record["utterance"] as? Int ?? -1)"
            records[key] = record
            order.append(key)
        }
        return (records, order, exit, Double(elapsed.components.seconds))
    }

    func statuses(_ r: [String: Any]?) -> [String] {
        ["audio_status", "video_status", "status"].map { r?[$0] as? String ?? "?" }
    }

    func message(_ r: [String: Any]?) -> String { r?["message"] as? String ?? "" }

    @Test func meldLayout() async throws {
        let (records, order, exit, seconds) = try await annotate(corpus: Self.root.appendingPathComponent("meld/corpus.csv"))
        #expect(exit == 1, "degraded utterances: exit status 1")
        #expect(seconds < 120, "the 10-hour clip must not be decoded whole (took \(seconds) s)")
        #expect(order == ["0/0", "0/1", "0/2", "1/0", "1/1", "1/2", "2/0", "2/1", "2/2", "2/3", "2/4", "2/5"],
                "one record per row, in corpus order (the duplicate id is the 5th utterance of dialogue 2)")
        #expect(statuses(records["0/0"]) == ["ok", "ok", "ok"])
        #expect(statuses(records["0/1"]) == ["ok", "missing", "degraded"], "a wav named .mp4: its audio is used")
        #expect(message(records["0/1"]).contains("no video stream"))
        #expect(statuses(records["0/2"]) == ["ok", "ok", "ok"], "an mp4 named .avi is read by its content")
        #expect(statuses(records["1/0"]) == ["ok", "missing", "degraded"], "audio only")
        #expect(statuses(records["1/1"]) == ["missing", "ok", "degraded"], "video only")
        #expect(statuses(records["1/2"]) == ["ok", "error", "degraded"], "a video stream without frames")
        #expect(message(records["1/2"]).contains("no video frame"))
        #expect(statuses(records["2/0"]) == ["zeroed", "zeroed", "degraded"], "10 hours: the authors' over-30-s rule")
        #expect(message(records["2/0"]).contains("clip lasts 36000.00 s, over 30 s"))
        #expect(statuses(records["2/1"]) == ["ok", "ok", "ok"])
        #expect(records["2/1"]?["text"] as? String == "Caf\u{FFFD} cr\u{FFFD}me.", "Latin-1 bytes become U+FFFD")
        #expect(statuses(records["2/2"]) == ["error", "error", "degraded"], "truncated")
        #expect(statuses(records["2/3"]) == ["error", "error", "degraded"], "zero bytes")
        #expect(statuses(records["2/4"]) == ["ok", "ok", "ok"], "duplicate id: annotated like any row")
        #expect(statuses(records["2/5"]) == ["missing", "missing", "degraded"], "no such file")
        // Times as the corpus gives them: numbers when they are numbers, absent when not.
        #expect(records["0/1"]?["start"] as? Double == -5 && records["0/1"]?["end"] as? Double == -1)
        #expect(records["0/2"]?["start"] is NSNull && records["0/2"]?["end"] is NSNull, "NaN is not a time")
        #expect(records["1/1"]?["start"] as? Double == 36000)
        for (key, record) in records where record["status"] as? String == "degraded" {
            #expect(!message(record).isEmpty, "\(key): a degraded record says why")
        }
    }

    @Test func episodesLayout() async throws {
        let (records, order, exit, seconds) = try await annotate(corpus: Self.root.appendingPathComponent("episodes"))
        #expect(exit == 1)
        #expect(seconds < 120, "cues in and past a 10-hour episode must not decode it whole (took \(seconds) s)")
        #expect(order == ["long#0/0", "long#1/0", "radio#0/0", "short#0/0", "short#0/1", "short#0/2", "short#0/3",
                          "short#1/0", "short#2/0", "short#2/1"], "every cue, in file order")
        #expect(statuses(records["long#0/0"]) == ["ok", "error", "degraded"], "no frame between 1 s and 3 s")
        #expect(statuses(records["long#1/0"]) == ["error", "error", "degraded"], "past the end of 10 hours")
        #expect(message(records["long#1/0"]).contains("no audio samples between 37800.0 s and 37802.0 s: the file ends at 36000.0 s"))
        #expect(statuses(records["radio#0/0"]) == ["ok", "missing", "degraded"], "an episode without video")
        #expect(records["radio#0/0"]?["text"] as? String == "Sound only, na\u{FFFD}ve.")
        #expect(statuses(records["short#0/0"]) == ["ok", "ok", "ok"])
        for key in ["short#0/1", "short#0/2", "short#0/3"] {  // negative, NaN, end before start
            #expect(statuses(records[key]) == ["missing", "missing", "degraded"], "\(key)")
            #expect(message(records[key]).contains("no usable start and end times"), "\(key)")
            #expect(records[key]?["start"] is NSNull, "\(key)")
        }
        for key in ["short#1/0", "short#2/0"] {  // 20 s and 10 hours into a 3-s file
            #expect(statuses(records[key]) == ["error", "error", "degraded"], "\(key)")
            #expect(message(records[key]).contains("the file ends at 3.0 s"), "\(key)")
        }
        #expect(statuses(records["short#2/1"]) == ["ok", "ok", "ok"])
        #expect(records["short#2/1"]?["text"] as? String == "Gar\u{FFFD}on!")
    }
}
