import ArgumentParser
import Foundation
import Testing
@testable import TelmeCLI

/// Transcripts as people have them, through the built `telme`: WhisperX's JSON, SRT and VTT
/// (Fixtures/whisperx, written by Tools/fixtures/cli_whisperx.sh as WhisperX writes them)
/// beside `.mov` and `.webm` episodes in a season subfolder, one transcript given as the corpus,
/// and gold labels in episode transcripts. Also the options every subcommand shares.
@Suite(.enabled(if: TelmeBinary.available, "needs the built telme (swift build --build-tests)"))
struct TranscriptSourcesTests {
    static let whisperx = AnnotateTests.fixtures.appendingPathComponent("whisperx")

    static func annotate(_ corpus: String, _ out: URL, _ extra: [String] = []) throws -> TelmeBinary.Result {
        try TelmeBinary.run(["annotate", "--model", RunReportTests.model, "--corpus", corpus, "-o", out.path] + extra)
    }

    /// The students' outputs of records, which depend on the media alone.
    static func studentOutputs(_ r: [String: Any]) -> [String] {
        ["audio_label", "video_label"].map { "\(r[$0] ?? "?")" }
            + AnnotateLayoutsTests.meldLabels.flatMap { ["audio_p_\($0)", "video_p_\($0)"].map { "\(r[$0] ?? "?")" } }
    }

    /// WhisperX output in a season folder: `S01/E01.mov` with WhisperX's JSON, `S01/E02.webm`
    /// with its VTT, `E03.mp4` with its SRT. Speakers come from `segments[].speaker` and the
    /// `[SPEAKER_00]: ` prefixes, which leave the text; a segment without speaker is counted in
    /// one warning; the .mov and .webm give the very frames and audio of the episodes they were
    /// remuxed from.
    @Test func whisperXEpisodesInASeasonFolder() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let out = folder.appendingPathComponent("out")
        let result = try Self.annotate(Self.whisperx.path, out)
        #expect(result.status == 0, "\(result.stderr)")
        // S01/E01.json comes with the .srt, .vtt and .txt WhisperX writes beside it: the JSON is
        // used, without a complaint about the others.
        #expect(!result.stderr.contains("other transcripts of the same name ignored"), "\(result.stderr)")
        let warnings = RunReportTests.lines(result.stderr, matching: "cues have no speaker")
        #expect(warnings == ["telme: warning: \(Self.whisperx.path)/S01/E01.json:1: 1 of 6 cues have no speaker "
                             + "(the first here); their utterances get an empty speaker"])
        try RecordSchemaTests.expectValid(out)
        let records = try RunReportTests.records(out)
        #expect(records.count == 16)
        #expect(records.map { $0["episode"] as? String }
                == Array(repeating: "E03", count: 6) + Array(repeating: "S01/E01", count: 6) + Array(repeating: "S01/E02", count: 4))
        #expect(Set(records.compactMap { $0["source"] as? String }) == ["E03.mp4", "S01/E01.mov", "S01/E02.webm"])
        #expect(Set(records.compactMap { $0["transcript"] as? String }) == ["E03.srt", "S01/E01.json", "S01/E02.vtt"])
        #expect(records[6..<12].map { $0["speaker"] as? String }
                == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00", "SPEAKER_01", "", "SPEAKER_01"])
        #expect(records[12...].map { $0["speaker"] as? String } == ["SPEAKER_00", "SPEAKER_01", "SPEAKER_00", "SPEAKER_01"])
        #expect(records[12...].map { $0["line"] as? Int } == [3, 6, 9, 12], "the VTT's timing lines")
        #expect(records[..<6].map { $0["text"] as? String }
                == ["Good morning.", "Morning. Coffee?", "Yes please.", "Did you see the news?", "No, what happened?",
                    "They closed the bridge."])
        #expect(records[6]["text"] as? String == "Good morning.", "WhisperX's leading space trimmed")
        #expect(records.allSatisfy { ($0["dialogue"] as? String)?.hasPrefix(($0["episode"] as? String ?? "?") + "#") == true })
        #expect(records.allSatisfy { AnnotateLayoutsTests.statuses($0) == ["ok", "ok", "ok"] })

        // The same media as the episodes fixture: E01.mov and E03.mp4 are ep01.mp4, E02.webm is ep02.mkv.
        let reference = try RunReportTests.records(try {
            let episodes = folder.appendingPathComponent("episodes")
            _ = try RunReportTests.annotateEpisodes(episodes)
            return episodes
        }())
        for k in 0..<6 {
            #expect(Self.studentOutputs(records[k]) == Self.studentOutputs(reference[k]), "E03 cue \(k)")
            #expect(Self.studentOutputs(records[6 + k]) == Self.studentOutputs(reference[k]), "S01/E01.mov cue \(k)")
        }
        for k in 0..<4 {
            #expect(Self.studentOutputs(records[12 + k]) == Self.studentOutputs(reference[6 + k]), "S01/E02.webm cue \(k)")
        }

        // One transcript as the corpus: that episode alone, named relative to its folder.
        let single = folder.appendingPathComponent("single")
        #expect(try Self.annotate(Self.whisperx.appendingPathComponent("S01/E02.vtt").path, single).status == 0)
        let alone = try RunReportTests.records(single)
        #expect(alone.map { $0["episode"] as? String } == Array(repeating: "E02", count: 4))
        #expect(alone.map { $0["source"] as? String } == Array(repeating: "E02.webm", count: 4))
        #expect(alone.map { $0["text"] as? String } == records[12...].map { $0["text"] as? String })
        // The students see the same media; the teacher's prompt differs (official speaker
        // numbering looks back at the episode before it in the folder).
        #expect(alone.map(Self.studentOutputs) == records[12...].map(Self.studentOutputs))
    }

    /// Gold labels for episodes: a trailing `[joy]` tag in SRT/VTT cues, and an `emotion`
    /// column in a CSV transcript, become the records' `gold`, so `telme evaluate` scores an
    /// episodes run as it does MELD; a bracket that is not an emotion label stays text.
    @Test func goldLabelsOfEpisodesAreEvaluated() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let corpus = folder.appendingPathComponent("episodes")
        try FileManager.default.createDirectory(at: corpus, withIntermediateDirectories: true)
        for name in ["ep01.mp4", "ep02.mkv"] {
            try FileManager.default.copyItem(at: AnnotateLayoutsTests.episodes.appendingPathComponent(name),
                                             to: corpus.appendingPathComponent(name))
        }
        let srt = """
            1
            00:00:00,500 --> 00:00:02,000
            ANNA: Good morning. [joy]

            2
            00:00:02,600 --> 00:00:04,200
            BEN: Morning. Coffee? [Neutral]

            3
            00:00:04,800 --> 00:00:06,000
            ANNA: Yes please. [laughs]

            """
        try srt.write(to: corpus.appendingPathComponent("ep01.srt"), atomically: true, encoding: .utf8)
        let csv = "start,end,speaker,text,emotion\n0.8,2.4,Carla,Where are the keys?,fear\n3.0,4.5,Dan,On the table.,\n"
        try csv.write(to: corpus.appendingPathComponent("ep02.csv"), atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("out")
        #expect(try TelmeBinary.run(["annotate", "--model", RunReportTests.model, "--corpus", corpus.path,
                                     "--out", out.path]).status == 0)
        let records = try RunReportTests.records(out)
        #expect(records.map { $0["gold"] as? String } == ["joy", "neutral", nil, "fear", nil])
        #expect(records.map { $0["text"] as? String }
                == ["Good morning.", "Morning. Coffee?", "Yes please. [laughs]", "Where are the keys?", "On the table."])
        let evaluation = try TelmeBinary.run(["evaluate", out.path])
        #expect(evaluation.status == 0, "\(evaluation.stderr)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: out.appendingPathComponent("evaluation.json")))
            as? [String: Any]
        let counts = report?["counts"] as? [String: Any]
        #expect(counts?["evaluated"] as? Int == 3)
        #expect(counts?["without_gold"] as? Int == 2)

        // --gold from transcripts the user holds, matched by the records' transcript and line: a
        // run of untagged transcripts scored against tagged copies of them (one file, or a folder).
        let plain = folder.appendingPathComponent("plain")
        try FileManager.default.createDirectory(at: plain, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: corpus.appendingPathComponent("ep01.mp4"), to: plain.appendingPathComponent("ep01.mp4"))
        try srt.replacingOccurrences(of: " [joy]", with: "").replacingOccurrences(of: " [Neutral]", with: "")
            .write(to: plain.appendingPathComponent("ep01.srt"), atomically: true, encoding: .utf8)
        let plainOut = folder.appendingPathComponent("plain-out")
        #expect(try TelmeBinary.run(["annotate", "--model", RunReportTests.model, "--corpus", plain.path,
                                     "-o", plainOut.path]).status == 0)
        #expect(try RunReportTests.records(plainOut).allSatisfy { $0["gold"] is NSNull })
        for gold in [corpus.path, corpus.appendingPathComponent("ep01.srt").path] {
            let scored = try TelmeBinary.run(["evaluate", plainOut.path, "--gold", gold])
            #expect(scored.status == 0, "\(scored.stderr)")
            let json = try JSONSerialization.jsonObject(with: Data(contentsOf: plainOut.appendingPathComponent("evaluation.json")))
                as? [String: Any]
            #expect((json?["counts"] as? [String: Any])?["evaluated"] as? Int == 2, "\(gold)")
            #expect((json?["gold"] as? [String: Any])?["kind"] as? String == "transcripts")
        }
    }

    /// `validate --preview` shows the dialogues and speakers annotate will see, per episode.
    @Test func validatePreviewsDialoguesAndSpeakers() throws {
        let read = try CorpusInput(corpus: Self.whisperx.path, layout: .auto, dialogueGap: 5).read()
        #expect(Validate.preview(read.corpus) == [
            "E03 (E03.srt): 6 utterances, 2 dialogues; speakers: SPEAKER_00 3, SPEAKER_01 3",
            "  E03#0  0.5-6.0 s  3 utterances: SPEAKER_00, SPEAKER_01, SPEAKER_00",
            "  E03#1  13.0-21.5 s  3 utterances: SPEAKER_01, SPEAKER_00, SPEAKER_01",
            "S01/E01 (S01/E01.json): 6 utterances, 2 dialogues; speakers: SPEAKER_01 3, SPEAKER_00 2, ? 1",
            "  S01/E01#0  0.5-6.0 s  3 utterances: SPEAKER_00, SPEAKER_01, SPEAKER_00",
            "  S01/E01#1  13.0-21.5 s  3 utterances: SPEAKER_01, ?, SPEAKER_01",
            "S01/E02 (S01/E02.vtt): 4 utterances, 2 dialogues; speakers: SPEAKER_00 2, SPEAKER_01 2",
            "  S01/E02#0  0.8-4.5 s  2 utterances: SPEAKER_00, SPEAKER_01",
            "  S01/E02#1  11.0-17.5 s  2 utterances: SPEAKER_00, SPEAKER_01",
        ])
        // The count of cues without a speaker is a note, not a problem: the corpus validates clean.
        #expect(read.notes.count == 1)
        #expect(read.warnings.isEmpty && read.episodeProblems.isEmpty)
        let validate = try #require(try TelmeCommand.parseAsRoot(["validate", "--preview", "--corpus", Self.whisperx.path])
            as? Validate)
        #expect(try validate.report().isClean)
    }

    // MARK: Options every subcommand shares

    @Test func mistypedCommandsGetASuggestion() throws {
        let typo = try TelmeBinary.run(["anotate", "--model", "m.telme"])
        #expect(typo.status == 2)
        #expect(typo.stderr == "telme: unknown command \"anotate\"; did you mean \"annotate\"?\n")
        let unknown = try TelmeBinary.run(["frobnicate"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.hasPrefix("telme: unknown command \"frobnicate\"; commands: annotate, validate, merge"))
    }

    /// An HDF5 export where a `.telme` is expected: the command that converts it.
    @Test func anHDF5ExportIsToBeConvertedFirst() throws {
        let h5 = AnnotateTests.fixtures.appendingPathComponent("text-meld.h5").path
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        for command in [["annotate", "--model", h5, "--corpus", AnnotateTests.fixtures.appendingPathComponent("corpus.csv").path,
                         "-o", out.path], ["inspect", h5]] {
            let result = try TelmeBinary.run(command)
            #expect(result.status == 2)
            #expect(result.stderr.contains("an HDF5 export, not a converted model: convert it first with `telme convert \(h5) -o text-meld.telme`"),
                    "\(result.stderr)")
        }
    }

    /// `-o`/`--out`/`--output` name the output of every command that writes one, and
    /// `validate` takes `--corpus` as `annotate` does.
    @Test func sameOptionNamesEverywhere() async throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let corpus = AnnotateTests.fixtures.appendingPathComponent("corpus.csv").path
        for (k, spelling) in ["-o", "--out", "--output"].enumerated() {
            let shard = folder.appendingPathComponent("shard-\(k)")
            let result = try TelmeBinary.run(["annotate", "--model", AnnotateTests.model.path, "--corpus", corpus,
                                              spelling, shard.path, "--shard", "\(k)/3"])
            #expect(result.status == 0, "\(spelling): \(result.stderr)")
        }
        let merged = folder.appendingPathComponent("merged")
        let merge = try TelmeBinary.run(["merge"] + (0..<3).map { folder.appendingPathComponent("shard-\($0)").path }
                                        + ["-o", merged.path])
        #expect(merge.status == 0, "\(merge.stderr)")
        let whole = folder.appendingPathComponent("whole")
        #expect(try TelmeBinary.run(["annotate", "--model", AnnotateTests.model.path, "--corpus", corpus,
                                     "--output", whole.path]).status == 0)
        try TelmeBinary.expectSameOutputs(merged, whole, "merged with -o")
        #expect(try TelmeBinary.run(["convert", AnnotateTests.fixtures.appendingPathComponent("text-meld.h5").path,
                                     "--out", folder.appendingPathComponent("m.telme").path]).status == 0)

        let episodes = AnnotateLayoutsTests.episodes.path
        let byOption = try #require(try TelmeCommand.parseAsRoot(["validate", "--corpus", episodes]) as? Validate)
        let byArgument = try #require(try TelmeCommand.parseAsRoot(["validate", episodes]) as? Validate)
        #expect(try byOption.report().problems.map(\.description) == byArgument.report().problems.map(\.description))
        #expect(throws: (any Error).self) { try TelmeCommand.parseAsRoot(["validate", episodes, "--corpus", episodes]) }
        #expect(throws: (any Error).self) { try TelmeCommand.parseAsRoot(["validate"]) }
    }
}
