import Foundation
import Testing
import TelmeCorpus
import TelmePipeline

/// What a run tells its user (the summary line, the missing-media warning, progress) and the
/// outputs a researcher reads as they are: through the built `telme` on the tiny MELD model and
/// the real media of the fixtures (ffmpeg clips and episodes with espeak-ng speech).
@Suite(.enabled(if: TelmeBinary.available, "needs the built telme (swift build --build-tests)"))
struct RunReportTests {
    static let model = AnnotateLayoutsTests.meldModel.path
    static let episodes = AnnotateLayoutsTests.episodes.path

    /// `telme annotate` on the episodes fixture (11 cues in 4 dialogues of 3, 3, 2, 3).
    static func annotateEpisodes(_ out: URL, _ extra: [String] = [], corpus: String = episodes,
                                 environment: [String: String] = [:]) throws -> TelmeBinary.Result {
        try TelmeBinary.run(["annotate", "--model", model, "--corpus", corpus, "-o", out.path] + extra,
                            environment: environment)
    }

    static func records(_ out: URL) throws -> [[String: Any]] {
        try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    /// The stderr lines starting with `telme: ` that match `pattern`.
    static func lines(_ stderr: String, matching pattern: String) -> [String] {
        stderr.split(separator: "\n").map(String.init).filter { $0.range(of: pattern, options: .regularExpression) != nil }
    }

    static let clock = "[0-9]+:[0-5][0-9]:[0-5][0-9]"
    static let progressLine = "^telme: ([0-9]+)/([0-9]+) utterances \\(([0-9]+)%\\), elapsed \(clock), ETA (\(clock)|\\?:\\?\\?:\\?\\?)$"

    /// The counts of progress lines (done, total).
    static func progress(_ stderr: String) -> [(done: Int, total: Int)] {
        lines(stderr, matching: progressLine).map { line in
            let numbers = line.dropFirst("telme: ".count).split(separator: " ")[0].split(separator: "/")
            return (Int(numbers[0])!, Int(numbers[1])!)
        }
    }

    // MARK: Feedback

    /// A wrong --media: every clip is missing. The run says so loudly before it starts, and its
    /// last line counts the degraded records, the wall time and where the outputs are.
    @Test func wrongMediaIsLoudAndTheRunEndsWithASummary() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let out = folder.appendingPathComponent("out")
        let result = try TelmeBinary.run(["annotate", "--model", AnnotateMediaTests.model.path, "--corpus",
                                          AnnotateMediaTests.corpus, "--media", folder.appendingPathComponent("typo").path,
                                          "--out", out.path])
        #expect(result.status == 1)
        let warning = Self.lines(result.stderr, matching: "^telme: warning: MOST MEDIA ARE MISSING: 11 of 11 utterances")
        #expect(warning.count == 1, "\(result.stderr)")
        #expect(warning.first?.contains("is --media right?") == true)
        let last = result.stderr.split(separator: "\n").last.map(String.init) ?? ""
        #expect(last.range(of: "^telme: done: 11 of 11 utterances: 0 ok, 11 degraded, 0 failed, 0 skipped; \(Self.clock); "
                           + "output in \(NSRegularExpression.escapedPattern(for: out.path))$",
                           options: .regularExpression) != nil, "\(last)")
        // The right --media: no warning, the same summary with the real counts.
        let good = try TelmeBinary.run(["annotate", "--model", AnnotateMediaTests.model.path, "--corpus",
                                        AnnotateMediaTests.corpus, "--media", AnnotateMediaTests.clips,
                                        "--out", folder.appendingPathComponent("good").path])
        #expect(Self.lines(good.stderr, matching: "MOST MEDIA").isEmpty)
        #expect(Self.lines(good.stderr, matching: "^telme: done: 11 of 11 utterances: 6 ok, 5 degraded, 0 failed, 0 skipped; ")
            .count == 1, "\(good.stderr)")
    }

    /// Off a terminal, progress is plain lines (no carriage returns), per model call, so it
    /// moves inside a dialogue; after a resume it counts the whole corpus.
    @Test func progressLinesMoveWithinDialoguesAndCountTheWholeCorpusAfterAResume() throws {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        // Killed once the second dialogue (cues 0-5) is committed.
        let killed = try Self.annotateEpisodes(out, environment: ["TELME_TEST_SIGNAL": "2:committed:KILL"])
        #expect(killed.signaled)
        let resumed = try Self.annotateEpisodes(out, ["--progress-every", "0.000001"])
        #expect(resumed.status == 1, "\(resumed.stderr)")
        #expect(!resumed.stderr.contains("\r"), "no terminal frames in a log")
        let seen = Self.progress(resumed.stderr)
        #expect(seen.count >= 5, "\(resumed.stderr)")
        #expect(seen.allSatisfy { $0.total == 11 }, "the whole corpus, not what is left")
        #expect(seen.first.map { $0.done >= 6 } == true, "starts at what the killed run did")
        #expect(seen.map(\.done) == seen.map(\.done).sorted())
        #expect(seen.last.map { $0.done == 11 } == true)
        // Dialogues end at 8 and 11: a count in between is progress inside a dialogue.
        #expect(seen.contains { ![6, 8, 11].contains($0.done) }, "\(seen)")
        let summary = Self.lines(resumed.stderr, matching: "^telme: done: ")
        #expect(summary.count == 1)
        #expect(summary.first?.contains("11 of 11 utterances: 10 ok, 1 degraded, 0 failed, 0 skipped; "
                                        + "6 done by an earlier run; ") == true, "\(summary)")
        // --progress-every 0: no progress lines, the summary still.
        let quiet = try Self.annotateEpisodes(try AnnotateTests.temporaryDirectory().appendingPathComponent("out"),
                                              ["--progress-every", "0"])
        #expect(Self.progress(quiet.stderr).isEmpty)
        #expect(Self.lines(quiet.stderr, matching: "^telme: done: 11 of 11").count == 1)
    }

    /// `--text-only`: the media were not asked for, so they are `skipped` and the records ok
    /// (exit 0); a transcript without a video is annotated too; records name their source as a
    /// run with media does.
    @Test func textOnlySkipsMediaAndSucceeds() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let corpus = folder.appendingPathComponent("episodes")
        try FileManager.default.copyItem(atPath: Self.episodes, toPath: corpus.path)
        try "1\n00:00:01,000 --> 00:00:02,000\nZOE: Nobody filmed this.\n"
            .write(to: corpus.appendingPathComponent("radio.srt"), atomically: true, encoding: .utf8)
        let textOnly = folder.appendingPathComponent("text")
        let result = try Self.annotateEpisodes(textOnly, ["--text-only"], corpus: corpus.path)
        #expect(result.status == 0, "\(result.stderr)")
        let records = try Self.records(textOnly)
        #expect(records.count == 12)
        for r in records {
            #expect(AnnotateLayoutsTests.statuses(r) == ["skipped", "skipped", "ok"])
            #expect(r["message"] as? String == "")
            #expect(r["label"] as? String == r["text_label"] as? String, "the teacher's label")
            #expect(r["audio_label"] is NSNull && r["video_label"] is NSNull)
        }
        let radio = try #require(records.first { $0["episode"] as? String == "radio" })
        #expect(radio["source"] as? String == "radio.srt", "no video: the transcript")
        #expect(radio["speaker"] as? String == "ZOE")
        #expect(Self.lines(result.stderr, matching: "^telme: done: 12 of 12 utterances: 12 ok, 0 degraded, 0 failed, "
                           + "0 skipped; audio and video skipped \\(--text-only\\); ").count == 1, "\(result.stderr)")
        try RecordSchemaTests.expectValid(textOnly)

        // With media, the same sources (the episode's video, relative to the folder); radio.srt is ignored.
        let withMedia = folder.appendingPathComponent("media")
        let media = try Self.annotateEpisodes(withMedia, corpus: corpus.path)
        #expect(media.stderr.contains("radio.srt: no video of the same name"))
        let mediaRecords = try Self.records(withMedia)
        #expect(mediaRecords.map { $0["source"] as? String }
                == records.filter { $0["episode"] as? String != "radio" }.map { $0["source"] as? String })
        #expect(Set(mediaRecords.compactMap { $0["source"] as? String }) == ["ep01.mp4", "ep02.mkv"])
    }

    // MARK: Resume

    /// The same folder reached by another spelling (trailing slash, `.`, a symbolic link) is
    /// the same corpus: the run continues instead of being refused.
    @Test func resumeComparesCanonicalPaths() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let link = folder.appendingPathComponent("link")
        try FileManager.default.createSymbolicLink(atPath: link.path, withDestinationPath: Self.episodes)
        let out = folder.appendingPathComponent("out")
        let killed = try Self.annotateEpisodes(out, corpus: Self.episodes + "/",
                                               environment: ["TELME_TEST_SIGNAL": "1:committed:KILL"])
        #expect(killed.signaled)
        let resumed = try Self.annotateEpisodes(out, corpus: link.path + "/./")
        #expect(resumed.status == 1, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("continuing: 1 of 4 units are already done"), "\(resumed.stderr)")
        // The same bytes as the resuming command run whole (messages name files as the command does).
        let whole = folder.appendingPathComponent("whole")
        _ = try Self.annotateEpisodes(whole, corpus: link.path + "/./")
        try TelmeBinary.expectSameOutputs(out, whole, "resumed through a link")
        // Another corpus is refused, naming it.
        let other = folder.appendingPathComponent("other")
        try FileManager.default.copyItem(atPath: Self.episodes, toPath: other.path)
        let refused = try Self.annotateEpisodes(out, corpus: other.path)
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("the folder holds another run: the corpus ("), "\(refused.stderr)")
    }

    /// `--batch-size` changes the probabilities in their last bits (the products run over other
    /// shapes), so it stays part of a run's identity: resuming with another one is refused. If
    /// this ever changes (bit-identical results), drop it from `RunInfo.differences`.
    @Test func batchSizeChangesBitsSoItStaysInTheIdentity() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        func run(_ out: String, _ size: String) throws -> TelmeBinary.Result {
            try TelmeBinary.run(["annotate", "--model", AnnotateTests.model.path, "--corpus",
                                 AnnotateTests.fixtures.appendingPathComponent("corpus.csv").path,
                                 "-o", folder.appendingPathComponent(out).path, "--batch-size", size])
        }
        #expect(try run("one", "1").status == 0)
        #expect(try run("many", "16").status == 0)
        let one = try Self.records(folder.appendingPathComponent("one"))
        let many = try Self.records(folder.appendingPathComponent("many"))
        #expect(one.map { $0["label"] as? String } == many.map { $0["label"] as? String }, "labels never change")
        let bits = zip(one, many).contains { a, b in
            AnnotateTests.labels.contains { a["p_\($0)"] as? Double != b["p_\($0)"] as? Double }
        }
        #expect(bits, "probabilities differ in their last bits between batch sizes 1 and 16")
        let refused = try run("one", "16")
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("--batch-size (1 there, 16 now)"), "\(refused.stderr)")
    }

    // MARK: Outputs

    /// Records join back to their transcript: `transcript` and `line` name the cue's timing line,
    /// `cue` counts the transcript's cues without restarting where `utterance` does, `episode`
    /// names the episode. Each model's own probabilities are in the JSON records (and in the
    /// CSV with --modality-probabilities), each a distribution whose arg max is that model's label.
    @Test func recordsJoinBackToTheirTranscriptAndCarryEachModelsProbabilities() throws {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        _ = try Self.annotateEpisodes(out, ["--modality-probabilities"])
        try RecordSchemaTests.expectValid(out)
        let records = try Self.records(out)
        #expect(records.map { $0["episode"] as? String } == Array(repeating: "ep01", count: 6) + Array(repeating: "ep02", count: 5))
        #expect(records.map { $0["transcript"] as? String } == Array(repeating: "ep01.srt", count: 6) + Array(repeating: "ep02.vtt", count: 5))
        #expect(records.map { $0["cue"] as? Int } == [0, 1, 2, 3, 4, 5, 0, 1, 2, 3, 4])
        #expect(records.map { $0["utterance"] as? Int } == [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 2])
        for r in records {
            let file = AnnotateLayoutsTests.episodes.appendingPathComponent(r["transcript"] as! String)
            let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false)
            let line = try #require(r["line"] as? Int)
            #expect(lines[line - 1].contains("-->"), "line \(line) of \(file.lastPathComponent) is the cue's timing line")
            if file.pathExtension == "srt", (r["cue"] as? Int ?? 0) < 5 {
                #expect(lines[line].hasSuffix(r["text"] as! String), "the cue's text follows")
            }
        }
        let labels = AnnotateLayoutsTests.meldLabels
        for r in records {
            for modality in ["text", "audio", "video"] {
                let p = labels.map { r["\(modality)_p_\($0)"] as? Double }
                guard let own = r["\(modality)_label"] as? String else {
                    #expect(p.allSatisfy { $0 == nil }, "no \(modality) model run, no probabilities")
                    continue
                }
                let values = p.map { $0 ?? .nan }
                #expect(abs(values.reduce(0, +) - 1) < 1e-6)
                #expect(labels[values.firstIndex(of: values.max()!)!] == own, "\(modality)")
            }
        }
        // The CSV holds the same values under the same names.
        let rows = try CSVReader.read(contentsOf: out.appendingPathComponent("annotations.csv")).rows.map(\.fields)
        let header = rows[0]
        #expect(header.last == "video_p_\(labels.last!)")
        for (row, r) in zip(rows.dropFirst(), records) {
            for name in ["text_p_joy", "audio_p_anger", "video_p_neutral", "cue", "line", "episode", "transcript"] {
                let cell = row[header.firstIndex(of: name)!]
                let value = r[name]
                let expected = value is NSNull ? "" : "\(value!)"
                #expect(cell == expected || Double(cell) == (value as? Double), "\(name)")
            }
        }
    }

    /// `--embeddings`: one float32 `.npy` per model with a row per record (NaN where the model
    /// did not run) and `index.csv`; a killed and resumed run writes the same bytes.
    @Test func embeddingsAreNpyRowsOfTheRecords() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let out = folder.appendingPathComponent("out")
        #expect(try Self.annotateEpisodes(out, ["--embeddings"]).status == 1)
        let embeddings = out.appendingPathComponent("embeddings")
        // The tiny model's widths: h_t and the fused representation 24, h_a 32, h_v 16.
        for (name, width) in [("text", 24), ("audio", 32), ("video", 16), ("fused", 24)] {
            let bytes = [UInt8](try Data(contentsOf: embeddings.appendingPathComponent("\(name).npy")))
            #expect(bytes.prefix(8) == [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0], "\(name): .npy 1.0 magic")
            let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            #expect(10 + headerLength == 128)
            let header = String(decoding: bytes[10..<128], as: UTF8.self)
            #expect(header.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (11, \(width)), }"), "\(header)")
            #expect(header.hasSuffix("\n"))
            #expect(bytes.count == 128 + 11 * width * 4)
            let values = stride(from: 128, to: bytes.count, by: 4).map { offset in
                Float(bitPattern: UInt32(bytes[offset]) | UInt32(bytes[offset + 1]) << 8
                      | UInt32(bytes[offset + 2]) << 16 | UInt32(bytes[offset + 3]) << 24)
            }
            // Record 10 (a cue after the end of ep02.mkv) has no audio, video nor fusion.
            let lastIsNaN = values[(10 * width)...].allSatisfy { $0.isNaN }
            let othersFinite = values[..<(10 * width)].allSatisfy { $0.isFinite }
            #expect(lastIsNaN == (name != "text"), "\(name)")
            #expect(othersFinite, "\(name)")
        }
        let index = try String(contentsOf: embeddings.appendingPathComponent("index.csv"), encoding: .utf8)
        let indexLines = index.split(separator: "\r\n")
        #expect(indexLines.first == "row,source,episode,transcript,cue,line,dialogue,utterance")
        #expect(indexLines.count == 12)
        #expect(indexLines[1] == "0,ep01.mp4,ep01,ep01.srt,0,2,ep01#0,0")
        #expect(indexLines[11] == "10,ep02.mkv,ep02,ep02.vtt,4,20,ep02#1,2")
        // numpy reads them without telme, when it is here to ask.
        if Self.pythonHasNumpy {
            let script = "import numpy as np, sys; a = np.load(sys.argv[1] + '/video.npy'); "
                + "print(a.shape, a.dtype, int(np.isnan(a).all(axis=1).sum()))"
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["python3", "-c", script, embeddings.path]
            let pipe = Pipe()
            process.standardOutput = pipe
            try process.run()
            process.waitUntilExit()
            let printed = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            #expect(printed == "(11, 16) float32 1\n")
        }
        // Killed after the first dialogue and resumed: the same bytes.
        let resumed = folder.appendingPathComponent("resumed")
        #expect(try Self.annotateEpisodes(resumed, ["--embeddings"], environment: ["TELME_TEST_SIGNAL": "2:written:KILL"]).signaled)
        #expect(try Self.annotateEpisodes(resumed, ["--embeddings"]).status == 1)
        try TelmeBinary.expectSameOutputs(out, resumed, "embeddings after a resume")
    }

    /// Whether the `python3` on PATH imports numpy.
    static let pythonHasNumpy: Bool = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import numpy"]
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }()
}
