import ArgumentParser
import Foundation
import Testing
import TelmeCLI
import TelmeFormat
import TelmeImport
import TelmeMedia
import TelmeCorpus
import TelmePipeline
import TelmeTestSupport

/// `telme annotate` end to end on the IEMOCAP and episodes layouts: the tiny full models
/// (`SharedFixtures`' tiny-iemocap and tiny-meld) over real media made by
/// Tools/fixtures/cli_layouts.sh (espeak-ng speech, ffmpeg containers).
@Suite struct AnnotateLayoutsTests {
    static let fixtures = Bundle.module.resourceURL!.appendingPathComponent("Fixtures")
    static let iemocap = fixtures.appendingPathComponent("iemocap")
    static let iemocapCSV = iemocap.appendingPathComponent("IEMOCAP_test.csv")
    static let episodes = fixtures.appendingPathComponent("episodes")

    static let iemocapLabels = ["ang", "exc", "fru", "hap", "neu", "sad"]
    static let meldLabels = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]

    /// A tiny model.h5 converted by the real converter.
    static func convert(_ name: String) -> URL {
        let h5 = try! SharedFixtures.url("\(name)/model.h5")
        let out = try! AnnotateTests.temporaryDirectory().appendingPathComponent("\(name).telme")
        _ = try! TelmeImporter.convert(input: h5, output: out, options: ConversionOptions(converterVersion: "test"))
        return out
    }

    static let iemocapModel = convert("tiny-iemocap")
    static let meldModel = convert("tiny-meld")

    /// One annotate run: its folder, records and JSONL lines in file order, and its exit status.
    struct Run {
        var out: URL
        var records: [[String: Any]]
        var lines: [String]
        var exitCode: Int32

        func record(_ dialogue: String, _ utterance: Int) -> [String: Any]? {
            records.first { $0["dialogue"] as? String == dialogue && $0["utterance"] as? Int == utterance }
        }

        func file(_ name: String) throws -> Data { try Data(contentsOf: out.appendingPathComponent(name)) }

        func runInfo() throws -> [String: Any] {
            try JSONSerialization.jsonObject(with: file("run.json")) as! [String: Any]
        }
    }

    static func annotate(model: URL, corpus: String, _ extra: [String]) async throws -> Run {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        var exitCode: Int32 = 0
        do {
            try await AnnotateTests.telme(["annotate", "--model", model.path, "--corpus", corpus,
                                           "--out", out.path] + extra)
        } catch let code as ExitCode {
            exitCode = code.rawValue
        }
        let text = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
        let lines = text.split(separator: "\n").map(String.init)
        let records = try lines.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
        return Run(out: out, records: records, lines: lines, exitCode: exitCode)
    }

    static func annotateIEMOCAP(corpus: String = iemocapCSV.path, _ extra: [String] = ["--layout", "iemocap",
                                "--media", iemocap.path]) async throws -> Run {
        try await annotate(model: iemocapModel, corpus: corpus, extra)
    }

    static func annotateEpisodes(_ extra: [String] = []) async throws -> Run {
        try await annotate(model: meldModel, corpus: episodes.path, extra)
    }

    static func statuses(_ r: [String: Any]?) -> [String] {
        ["audio_status", "video_status", "status"].map { r?[$0] as? String ?? "?" }
    }

    /// Checks the label fields of a record against the model's labels.
    static func checkLabels(_ r: [String: Any], labels: [String], _ comment: Comment,
                            sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(Set(r.keys.filter { $0.hasPrefix("p_") }) == Set(labels.map { "p_\($0)" }), comment,
                sourceLocation: sourceLocation)
        let p = labels.map { r["p_\($0)"] as? Double ?? -1 }
        // Float32 probabilities, each printed to its shortest round trip: the sum is 1 within a few ulps.
        #expect(abs(p.reduce(0, +) - 1) < 1e-6, comment, sourceLocation: sourceLocation)
        let best = labels[p.firstIndex(of: p.max()!)!]
        #expect(r["label"] as? String == best, comment, sourceLocation: sourceLocation)
        #expect(r["confidence"] as? Double == p.max(), comment, sourceLocation: sourceLocation)
        for key in ["text_label", "audio_label", "video_label"] where !(r[key] is NSNull) {
            #expect(labels.contains(r[key] as? String ?? "?"), "\(key) \(comment)", sourceLocation: sourceLocation)
        }
    }

    // MARK: IEMOCAP

    /// The CSV's rows: utterance id (the Speaker column), dialogue, start, end, text, gold.
    static let iemocapRows: [(id: String, dialogue: String, start: Double, end: Double, text: String, gold: String)] = [
        ("Ses01F_impro01_F000", "Ses01F_impro01", 0.42, 1.42, "Hi. Are you next?", "neu"),
        ("Ses01F_impro01_M000", "Ses01F_impro01", 3.1, 4.2, "I waited an hour.", "fru"),
        ("Ses01F_impro01_F001", "Ses01F_impro01", 6.8, 8.1, "Fill out this form, please.", "neu"),
        ("Ses01F_impro01_M001", "Ses01F_impro01", 11.25, 12.15, "This is ridiculous.", "ang"),
        ("Ses01M_script01_1_M000", "Ses01M_script01_1", 1.3, 2.1, "I got the job!", "exc"),
        ("Ses01M_script01_1_F000", "Ses01M_script01_1", 4.2, 5.2, "That is wonderful news.", "hap"),
        ("Ses01M_script01_1_M001", "Ses01M_script01_1", 14.1, 15.5, "But we have to move away.", "sad"),
        ("Ses01M_script01_1_F001", "Ses01M_script01_1", 16.5, 17.2, "Move where?", "sad"),
    ]

    static func dialogueVideo(_ dialogue: String) -> String {
        iemocap.path + "/Session1/dialog/avi/DivX/\(dialogue).avi"
    }

    @Test func iemocapEveryUtteranceGetsARecord() async throws {
        let run = try await Self.annotateIEMOCAP()
        #expect(run.exitCode == 1, "two utterances are degraded")
        try #require(run.records.count == Self.iemocapRows.count)
        var index = 0
        for (k, (row, r)) in zip(Self.iemocapRows, run.records).enumerated() {
            if k > 0, Self.iemocapRows[k - 1].dialogue != row.dialogue { index = 0 }
            #expect(r["dialogue"] as? String == row.dialogue, "\(row.id)")
            #expect(r["utterance"] as? Int == index, "\(row.id)")
            #expect(r["speaker"] as? String == row.id, "IEMOCAP's Speaker column holds the utterance id")
            #expect(r["start"] as? Double == row.start, "\(row.id)")
            #expect(r["end"] as? Double == row.end, "\(row.id)")
            #expect(r["text"] as? String == row.text, "\(row.id)")
            #expect(r["gold"] as? String == row.gold, "\(row.id)")
            #expect(r["text_status"] as? String == "ok", "\(row.id)")
            #expect(r["source"] as? String == "Session1/dialog/avi/DivX/\(row.dialogue).avi",
                    "the dialogue video as Video_Path names it, \(row.id)")
            Self.checkLabels(r, labels: Self.iemocapLabels, "\(row.id)")
            index += 1
        }
        for (dialogue, utterance) in [("Ses01F_impro01", 0), ("Ses01F_impro01", 1), ("Ses01F_impro01", 3),
                                      ("Ses01M_script01_1", 0), ("Ses01M_script01_1", 1)] {
            #expect(Self.statuses(run.record(dialogue, utterance)) == ["ok", "ok", "ok"], "\(dialogue)/\(utterance)")
            #expect(run.record(dialogue, utterance)?["message"] as? String == "")
        }
        // 0.42 s: the window starts at 0 (max(start - 1, 0)), not before the file.
        #expect(Self.statuses(run.record("Ses01F_impro01", 0)) == ["ok", "ok", "ok"])
        // No wav: the video student still runs, the prediction is the teacher's.
        let noWav = try #require(run.record("Ses01F_impro01", 2))
        #expect(Self.statuses(noWav) == ["missing", "ok", "degraded"])
        #expect(noWav["audio_label"] is NSNull)
        #expect(noWav["video_label"] is String)
        #expect(noWav["label"] as? String == noWav["text_label"] as? String)
        let noWavMessage = noWav["message"] as? String ?? ""
        #expect(noWavMessage.contains("Ses01F_impro01_F001.wav: no such file"), "\(noWavMessage)")
        #expect(noWavMessage.contains("text-only prediction"))
        // Ends 0.5 s after its video: the frames up to the end, the last one repeated.
        #expect(Self.statuses(run.record("Ses01M_script01_1", 2)) == ["ok", "ok", "ok"])
        // Its window (15.5-18.2 s) lies wholly after the 15 s video: no frame, the teacher decides.
        let after = try #require(run.record("Ses01M_script01_1", 3))
        #expect(Self.statuses(after) == ["ok", "error", "degraded"])
        #expect(after["audio_label"] is String)
        #expect(after["video_label"] is NSNull)
        #expect(after["label"] as? String == after["text_label"] as? String)
        #expect((after["message"] as? String)?.contains("no video frame between 16.5 s and 17.2 s") == true)

        let info = try run.runInfo()
        #expect((info["counts"] as? [String: Int]) == ["ok": 6, "degraded": 2, "failed": 0])
        let corpus = info["corpus"] as? [String: Any]
        #expect(corpus?["layout"] as? String == "iemocap")
        #expect(corpus?["utterances"] as? Int == 8)
        #expect((info["model"] as? [String: Any])?["labels"] as? [String] == Self.iemocapLabels)

        let csv = try #require(String(data: try run.file("annotations.csv"), encoding: .utf8))
        let rows = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }
        #expect(rows.count == 9)
        #expect(rows.first?.contains(Self.iemocapLabels.map { "p_\($0)" }.joined(separator: ",")) == true)
    }

    @Test func iemocapLayoutIsDetected() async throws {
        let explicit = try await Self.annotateIEMOCAP()
        let auto = try await Self.annotateIEMOCAP(["--layout", "auto", "--media", Self.iemocap.path])
        let implicit = try await Self.annotateIEMOCAP(["--media", Self.iemocap.path])
        #expect(auto.lines == explicit.lines)
        #expect(implicit.lines == explicit.lines)
        #expect((try auto.runInfo()["corpus"] as? [String: Any])?["layout"] as? String == "iemocap")
    }

    /// Relative paths resolve against `--media`, and without it against the CSV's folder.
    @Test func iemocapPathsResolveAgainstTheMediaRoot() async throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let moved = folder.appendingPathComponent("IEMOCAP_test.csv")
        try FileManager.default.copyItem(at: Self.iemocapCSV, to: moved)
        let inFixtures = try await Self.annotateIEMOCAP()
        let withMedia = try await Self.annotateIEMOCAP(corpus: moved.path, ["--media", Self.iemocap.path])
        #expect(withMedia.lines == inFixtures.lines)
        // The CSV's own folder holds no media: every record degraded, none failed.
        let withoutMedia = try await Self.annotateIEMOCAP(corpus: moved.path, [])
        #expect(withoutMedia.records.count == 8)
        #expect(withoutMedia.exitCode == 1)
        for r in withoutMedia.records {
            #expect(Self.statuses(r) == ["missing", "missing", "degraded"])
            #expect(r["source"] as? String == "Session1/dialog/avi/DivX/\(r["dialogue"] as! String).avi")
            #expect(r["label"] as? String == r["text_label"] as? String)
        }
        // The teacher sees the same text either way.
        for (a, b) in zip(withoutMedia.records, inFixtures.records) {
            #expect(a["text_label"] as? String == b["text_label"] as? String)
        }
    }

    @Test func iemocapZeroPolicyFusesWithZeroInputs() async throws {
        let run = try await Self.annotateIEMOCAP(["--media", Self.iemocap.path, "--missing-media", "zero"])
        let noWav = try #require(run.record("Ses01F_impro01", 2))
        #expect(Self.statuses(noWav) == ["zeroed", "ok", "degraded"])
        #expect(noWav["audio_label"] is String, "the audio student ran on zeros")
        #expect((noWav["message"] as? String)?.contains("text-only") == false)
        #expect(Self.statuses(run.record("Ses01M_script01_1", 3)) == ["ok", "zeroed", "degraded"])
        #expect(Self.statuses(run.record("Ses01F_impro01", 0)) == ["ok", "ok", "ok"])
    }

    /// The frames the annotate run gives the video student are those the authors' `get_video`
    /// (IEMOCAP/utils.py) keeps: numbers computed with OpenCV 4 on the fixture videos
    /// (frame n is in the window when fps·max(start−1, 0) ≤ n ≤ fps·(end+1); every
    /// ⌊fps·window / 8⌋-th; the last repeated up to 8).
    @Test func iemocapWindowsFollowTheAuthorsRule() throws {
        let model = try TelmeFile(contentsOf: Self.iemocapModel)
        let settings = model.model.settings
        #expect(settings.videoMarginSeconds == 1)
        let corpus = try Corpus(contentsOf: Self.iemocapCSV, layout: nil)
        #expect(corpus.layout == .iemocap)
        let expected: [[Int]?] = [
            [3, 6, 9, 12, 15, 18, 21, 24],            // 0.42 s: the window is clamped at 0 s
            [23, 26, 29, 32, 35, 38, 41, 44],
            [61, 65, 69, 73, 77, 81, 85, 89],         // after a seek (the window starts at 5.8 s)
            [105, 108, 111, 114, 117, 120, 123, 126],
            [9, 14, 19, 24, 29, 34, 39, 44],          // 15 fps
            [52, 57, 62, 67, 72, 77, 82, 87],
            [202, 208, 214, 220, 220, 220, 220, 220], // past the video's end (225 frames)
            nil,                                      // wholly after it
        ]
        var files: [String: (file: MediaFile, all: [VideoFrame])] = [:]
        for (u, numbers) in zip(corpus.utterances, expected) {
            let path = Self.dialogueVideo(u.dialogue)
            let start = try #require(u.startSeconds), end = try #require(u.endSeconds)
            let rule = FrameRule.dialogueWindow(start: start, end: end, margin: settings.videoMarginSeconds)
            if files[path] == nil {
                let file = try MediaFile(path: path)
                files[path] = (file, try MediaFile(path: path).allFrames())
            }
            let (file, all) = files[path]!
            guard let numbers else {
                #expect(throws: MediaError.self, "\(u.speaker)") { try file.frames(rule, count: 8) }
                continue
            }
            let frames: [VideoFrame] = try file.frames(rule, count: 8)
            #expect(frames.map(\.number) == numbers, "\(u.speaker)")
            // The pixels are those of the frames decoded from the start of the file.
            #expect(frames.map(\.bgr) == numbers.map { all[$0 - 1].bgr }, "\(u.speaker)")
        }
    }

    /// The annotation of a dialogue does not depend on the dialogues around it (nor on which
    /// dialogue video was decoded before).
    @Test func iemocapRecordsDoNotDependOnDialogueOrder() async throws {
        let text = try String(contentsOf: Self.iemocapCSV, encoding: .utf8)
        var lines = text.split(separator: "\n").map(String.init)
        let header = lines.removeFirst()
        let reordered = [header] + lines.filter { $0.contains(",Ses01M_script01_1,") }
            + lines.filter { $0.contains(",Ses01F_impro01,") }
        #expect(reordered.count == lines.count + 1)
        let path = try AnnotateTests.temporaryDirectory().appendingPathComponent("reordered.csv")
        try (reordered.joined(separator: "\n") + "\n").write(to: path, atomically: true, encoding: .utf8)
        let extra = ["--media", Self.iemocap.path, "--speaker-numbering", "dialogue"]
        let a = try await Self.annotateIEMOCAP(extra)
        let b = try await Self.annotateIEMOCAP(corpus: path.path, extra)
        #expect(a.lines.count == 8)
        #expect(Set(a.lines.map(AnnotateTests.withoutPlace)) == Set(b.lines.map(AnnotateTests.withoutPlace)))
        #expect(a.lines.map(AnnotateTests.withoutPlace) != b.lines.map(AnnotateTests.withoutPlace),
                "the order of the records follows the CSV")
    }

    // MARK: Episodes

    /// The cues of both transcripts in order: episode, speaker, start, end, text.
    static let cues: [(episode: String, speaker: String, start: Double, end: Double, text: String)] = [
        ("ep01.mp4", "ANNA", 0.5, 2.0, "Good morning."),
        ("ep01.mp4", "BEN", 2.6, 4.2, "Morning. Coffee?"),
        ("ep01.mp4", "ANNA", 4.8, 6.0, "Yes please."),
        ("ep01.mp4", "BEN", 13.0, 14.8, "Did you see the news?"),          // after a gap of 7 s
        ("ep01.mp4", "ANNA", 18.3, 19.8, "No, what happened?"),            // after 3.5 s
        ("ep01.mp4", "BEN", 20.0, 21.5, "They closed the bridge."),        // two lines joined
        ("ep02.mkv", "Carla", 0.8, 2.4, "Where are the keys?"),
        ("ep02.mkv", "Dan", 3.0, 4.5, "On the table."),
        ("ep02.mkv", "Carla", 11.0, 13.0, "They are not there."),          // after 6.5 s; <v.loud Carla>, <i>
        ("ep02.mkv", "Dan", 14.2, 17.5, "Then check your coat."),          // runs past the 15 s video
        ("ep02.mkv", "Carla", 19.0, 20.5, "Found them."),                  // wholly after it
    ]

    @Test func episodesEveryCueGetsARecord() async throws {
        let run = try await Self.annotateEpisodes()
        #expect(run.exitCode == 1, "one cue lies after its video")
        try #require(run.records.count == Self.cues.count, "ep03.avi has no transcript: no records")
        let dialogues = ["ep01#0", "ep01#0", "ep01#0", "ep01#1", "ep01#1", "ep01#1",
                         "ep02#0", "ep02#0", "ep02#1", "ep02#1", "ep02#1"]
        let indices = [0, 1, 2, 0, 1, 2, 0, 1, 0, 1, 2]
        for (k, (cue, r)) in zip(Self.cues, run.records).enumerated() {
            #expect(r["dialogue"] as? String == dialogues[k], "cue \(k)")
            #expect(r["utterance"] as? Int == indices[k], "cue \(k)")
            #expect(r["speaker"] as? String == cue.speaker, "cue \(k)")
            #expect(r["start"] as? Double == cue.start, "cue \(k)")
            #expect(r["end"] as? Double == cue.end, "cue \(k)")
            #expect(r["text"] as? String == cue.text, "cue \(k)")
            #expect(r["gold"] is NSNull, "cue \(k)")
            #expect(r["source"] as? String == cue.episode, "the video in the folder, cue \(k)")
            Self.checkLabels(r, labels: Self.meldLabels, "cue \(k)")
            if k < 10 {
                #expect(Self.statuses(r) == ["ok", "ok", "ok"], "cue \(k)")
                #expect(r["message"] as? String == "", "cue \(k)")
            }
        }
        let after = run.records[10]
        #expect(Self.statuses(after) == ["error", "error", "degraded"])
        #expect(after["label"] as? String == after["text_label"] as? String)
        let message = after["message"] as? String ?? ""
        #expect(message.contains("no audio samples between 19.0 s and 20.5 s"), "\(message)")
        #expect(message.contains("no video frame between 19.0 s and 20.5 s"), "\(message)")
        #expect(message.hasSuffix("text-only prediction"), "\(message)")

        let info = try run.runInfo()
        #expect((info["counts"] as? [String: Int]) == ["ok": 10, "degraded": 1, "failed": 0])
        #expect((info["corpus"] as? [String: Any])?["layout"] as? String == "episodes")
        #expect((info["corpus"] as? [String: Any])?["utterances"] as? Int == 11)
    }

    @Test func episodesFolderIsDetected() async throws {
        let auto = try await Self.annotateEpisodes()
        let explicit = try await Self.annotateEpisodes(["--layout", "episodes"])
        #expect(auto.lines.count == 11)
        #expect(auto.lines == explicit.lines)
    }

    @Test func videoWithoutTranscriptIsReported() throws {
        let corpus = try EpisodeCorpus.read(folder: Self.episodes)
        let ep03 = Self.episodes.appendingPathComponent("ep03.avi").path
        #expect(corpus.problems == [.missingTranscript(video: ep03)])
        #expect(corpus.messages == ["\(ep03): no transcript of the same name (.srt, .vtt, .json or .csv); the episode is skipped"])
        #expect(corpus.episodes.map(\.name) == ["ep01", "ep02", "ep03"])
        #expect(corpus.episodes.map(\.utterances.count) == [6, 5, 0])
        #expect(corpus.warnings.isEmpty)
    }

    /// `--dialogue-gap` decides where dialogues split (a gap of exactly the setting does not);
    /// the students' inputs, and so their labels, do not depend on it.
    @Test(arguments: [
        (3.0, ["ep01#0", "ep01#0", "ep01#0", "ep01#1", "ep01#2", "ep01#2", "ep02#0", "ep02#0", "ep02#1", "ep02#1", "ep02#1"]),
        (6.9, ["ep01#0", "ep01#0", "ep01#0", "ep01#1", "ep01#1", "ep01#1", "ep02#0", "ep02#0", "ep02#0", "ep02#0", "ep02#0"]),
        (7.0, ["ep01#0", "ep01#0", "ep01#0", "ep01#0", "ep01#0", "ep01#0", "ep02#0", "ep02#0", "ep02#0", "ep02#0", "ep02#0"]),
    ])
    func dialogueGapSplitsEpisodes(gap: Double, dialogues: [String]) async throws {
        let reference = try await Self.annotateEpisodes()
        let run = try await Self.annotateEpisodes(["--dialogue-gap", String(gap)])
        #expect(run.records.map { $0["dialogue"] as? String ?? "?" } == dialogues)
        var index: [String: Int] = [:]
        for (r, base) in zip(run.records, reference.records) {
            let dialogue = r["dialogue"] as? String ?? "?"
            #expect(r["utterance"] as? Int == index[dialogue, default: 0], "\(dialogue)")
            index[dialogue, default: 0] += 1
            for key in ["speaker", "start", "end", "text", "source", "audio_status", "video_status", "status"] {
                #expect("\(r[key] ?? "?")" == "\(base[key] ?? "?")", "\(key) of \(dialogue)")
            }
            for key in ["audio_label", "video_label"] {
                #expect("\(r[key] ?? "?")" == "\(base[key] ?? "?")", "the students see no context: \(key) of \(dialogue)")
            }
        }
    }

    /// A new context changes the teacher's input: with the default gap "No, what happened?"
    /// follows "Did you see the news?"; with 3 s it opens a dialogue of its own.
    /// (With the official numbering the first speaker of ep02 is numbered against the last
    /// dialogue of ep01, as in the authors' code; the plain numbering keeps dialogues apart.)
    @Test func dialogueGapChangesTheTeachersContext() async throws {
        let defaultGap = try await Self.annotateEpisodes(["--speaker-numbering", "dialogue"])
        let shortGap = try await Self.annotateEpisodes(["--speaker-numbering", "dialogue", "--dialogue-gap", "3"])
        let a = defaultGap.records[4], b = shortGap.records[4]
        #expect(a["dialogue"] as? String == "ep01#1" && b["dialogue"] as? String == "ep01#2")
        let p = { (r: [String: Any]) in Self.meldLabels.map { r["p_\($0)"] as? Double ?? -1 } }
        #expect(p(a) != p(b))
        // The first dialogue of each episode is the same under both gaps.
        for k in [0, 1, 2, 6, 7] {
            #expect(defaultGap.lines[k] == shortGap.lines[k], "cue \(k)")
        }
    }

    /// The media of each cue are cut from its episode by the cue's times: frames presented in
    /// [start, end) with the clip rule (times from ffprobe), audio of that span (to the end of
    /// the file at most), with the speech the fixture placed there.
    @Test func episodeMediaAreCutByCueTimes() throws {
        let corpus = try EpisodeCorpus.read(folder: Self.episodes)
        let expectedTimes: [[Double]] = [
            [0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2],                 // 15 frames in range: the first 8
            [2.7, 2.9, 3.1, 3.3, 3.5, 3.7, 3.9, 4.1],                 // 16: every 2nd
            [4.8, 4.9, 5.0, 5.1, 5.2, 5.3, 5.4, 5.5],
            [13.1, 13.3, 13.5, 13.7, 13.9, 14.1, 14.3, 14.5],
            [18.3, 18.4, 18.5, 18.6, 18.7, 18.8, 18.9, 19.0],
            [20.0, 20.1, 20.2, 20.3, 20.4, 20.5, 20.6, 20.7],
            [0.94, 1.14, 1.34, 1.54, 1.74, 1.94, 2.14, 2.34],         // VP9 at 15 fps from 7 ms
            [3.074, 3.207, 3.34, 3.474, 3.607, 3.74, 3.874, 4.007],
            [11.14, 11.34, 11.54, 11.74, 11.94, 12.14, 12.34, 12.54],
            [14.207, 14.274, 14.34, 14.407, 14.474, 14.54, 14.607, 14.674], // 12 frames before the end
            [],
        ]
        let rate = 22050.0
        var files: [String: MediaFile] = [:]
        var totals: [String: Double] = [:]
        for (u, times) in zip(corpus.utterances, expectedTimes) {
            let name = try #require(u.videoPath)
            #expect(name == (u.dialogue.hasPrefix("ep01") ? "ep01.mp4" : "ep02.mkv"), "relative to the folder")
            let path = Self.episodes.appendingPathComponent(name).path
            let start = try #require(u.startSeconds), end = try #require(u.endSeconds)
            let rule = FrameRule.range(start: start, end: end)
            let file = try files[path] ?? MediaFile(path: path)
            files[path] = file
            let label = "\(u.dialogue)/\(u.index)"
            guard !times.isEmpty else {
                #expect(throws: MediaError.self, "\(label)") { try file.frames(rule, count: 8) }
                #expect(throws: MediaError.self, "\(label)") { try file.audio(sampleRate: 22050, start: start, end: end) }
                continue
            }
            let frames: [VideoFrame] = try file.frames(rule, count: 8)
            // Within 10 ms: the same frames whether times count from the stream's or the
            // container's start (ep02.mkv: video 7 ms, container -2 ms; frames 67 ms apart).
            let got: [Double] = frames.map { $0.time ?? -1 }
            #expect(got.count == times.count && zip(got, times).allSatisfy { abs($0 - $1) < 0.01 },
                    "\(label): \(got)")
            let audio: [Float] = try file.audio(sampleRate: 22050, start: start, end: end)
            let whole = try totals[path] ?? Double(file.audio(sampleRate: 22050).count)
            totals[path] = whole
            let expectedCount = min(end * rate, whole) - start * rate
            let count = audio.count
            // librosa's slice, int(native rate · span) samples, resampled: measured exact; 1 sample for rounding.
            #expect(abs(Double(count) - expectedCount) <= 1, "\(label): \(count) samples, expected \(expectedCount)")
            var energy = 0.0
            for x in audio { energy += Double(x) * Double(x) }
            let rms = (energy / Double(max(count, 1))).squareRoot()
            #expect(rms > 0.01, "\(label): speech in the cue, rms \(rms)")
        }
        // Between the cues of ep01 (6-13 s) there is only silence.
        let ep01 = try MediaFile(path: Self.episodes.appendingPathComponent("ep01.mp4").path)
        let gap = try ep01.audio(sampleRate: 22050, start: 7, end: 12)
        #expect(gap.map { abs($0) }.max() ?? 1 < 0.01)
    }

    // MARK: Episode timing edge cases

    /// Brightness (0-255) of a frame's pixels, on average.
    static func brightness(_ frame: VideoFrame) -> Double {
        Double(frame.bgr.reduce(0) { $0 + Int($1) }) / Double(max(frame.bgr.count, 1))
    }

    /// Cue times are positions on the episode's timeline (from the container's start, as players
    /// show subtitles and as `ffmpeg -ss` cuts), the same for audio and frames. In
    /// offset/offset.mkv the video stream starts 0.564 s after the container and the
    /// audio; presentation time 1.0-2.0 s is white with a tone, the rest black and silent.
    @Test
    func episodeFramesFollowTheContainerTimeline() throws {
        let path = Self.fixtures.appendingPathComponent("offset/offset.mkv").path
        let file = try MediaFile(path: path)
        let audio = try file.audio(sampleRate: 22050, start: 1.0, end: 2.0)
        var energy = 0.0
        for x in audio { energy += Double(x) * Double(x) }
        #expect((energy / Double(max(audio.count, 1))).squareRoot() > 0.05, "the tone lies in the cue")
        let frames = try file.frames(.range(start: 1.0, end: 2.0), count: 8)
        let levels = frames.map(Self.brightness)
        #expect(levels.allSatisfy { $0 > 200 }, "every frame of the cue is white: \(levels)")
    }

    /// A cue that cannot be placed in time is kept as an utterance "without media": its record
    /// should say the media are missing for it, not that reading them failed with "nan s".
    @Test
    func unplacedCueHasNoMedia() async throws {
        let folder = try AnnotateTests.temporaryDirectory()
        try FileManager.default.copyItem(at: Self.episodes.appendingPathComponent("ep02.mkv"),
                                         to: folder.appendingPathComponent("ep02.mkv"))
        let vtt = "WEBVTT\n\n00:00.800 --> 00:02.400\n<v Carla>Where are the keys?\n\n"
            + "00:03.000 --> 00:xx.500\n<v Dan>On the table.\n"
        try vtt.write(to: folder.appendingPathComponent("ep02.vtt"), atomically: true, encoding: .utf8)
        let run = try await Self.annotate(model: Self.meldModel, corpus: folder.path, [])
        try #require(run.records.count == 2)
        #expect(Self.statuses(run.records[0]) == ["ok", "ok", "ok"])
        let unplaced = run.records[1]
        #expect(unplaced["start"] is NSNull && unplaced["end"] is NSNull)
        #expect(Self.statuses(unplaced) == ["missing", "missing", "degraded"])
        #expect((unplaced["message"] as? String)?.contains("nan") == false, "\(unplaced["message"] ?? "")")
    }

    // MARK: Both layouts

    @Test(arguments: ["iemocap", "episodes"])
    func rerunsAreByteIdentical(layout: String) async throws {
        let first = layout == "iemocap" ? try await Self.annotateIEMOCAP() : try await Self.annotateEpisodes()
        let second = layout == "iemocap" ? try await Self.annotateIEMOCAP() : try await Self.annotateEpisodes()
        #expect(first.out != second.out)
        for name in ["annotations.jsonl", "annotations.csv"] {
            let a = try first.file(name), b = try second.file(name)
            #expect(!a.isEmpty)
            #expect(a == b, "\(name)")
        }
    }
}

