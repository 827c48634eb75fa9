import Foundation
import Testing
@testable import TelmeCorpus

/// The `episodes` layout: pairing videos with transcripts, order, problems, and the dialogue-gap rule.
@Suite struct TranscriptEpisodesTests {
    /// A fresh folder holding `files` (name -> contents; a name ending in `/` is a subfolder).
    func folder(_ files: [String: Data], sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("telme-episodes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        for (name, data) in files {
            if name.hasSuffix("/") {
                try FileManager.default.createDirectory(at: url.appendingPathComponent(name), withIntermediateDirectories: true)
            } else {
                try data.write(to: url.appendingPathComponent(name))
            }
        }
        return url
    }

    func fixture(_ name: String) throws -> Data { try Data(contentsOf: transcriptFixture(name)) }

    let video = Data([0, 0, 0, 0x18] + Array("ftypmp42".utf8)) // never decoded here

    func utterances(_ text: String, _ format: TranscriptFormat = .csv, gap: Double) throws -> [Utterance] {
        let t = try Transcript.parse(Data(text.utf8), format: format, file: "ep.\(format.rawValue)")
        return EpisodeCorpus.utterances(of: t, episode: "ep", video: "/v/ep.mp4", dialogueGap: gap)
    }

    @Test func mixedFolder() throws {
        let url = try folder([
            "b.mp4": video, "b.srt": try fixture("quirks.srt"),
            "a.MKV": video, "a.vtt": try fixture("voices.vtt"), "a.srt": try fixture("quirks.srt"),
            "Z.mp4": video, "Z.csv": try fixture("dialogues.csv"),
            "c.avi": video,                                   // no transcript
            "d.csv": try fixture("rows.csv"),                 // no video
            "e.mp4": video, "e.vtt": try fixture("noheader.vtt"), // unreadable transcript
            "g.avi": video, "g.mp4": video, "g.srt": try fixture("quirks.srt"),
            "x1.mp4": video, "x1.srt": try fixture("quirks.srt"),
            "x1-2.mp4": video, "x1-2.srt": try fixture("quirks.srt"),
            "é.mp4": video, "é.SRT": try fixture("quirks.srt"),
            "notes.txt": Data("x".utf8), ".hidden.mp4": video, ".hidden.srt": try fixture("quirks.srt"),
            "sub.mp4/": Data(), "sub.srt": try fixture("quirks.srt"), "noext": video,
        ])
        defer { try? FileManager.default.removeItem(at: url) }
        let corpus = try EpisodeCorpus.read(folder: url, dialogueGap: 5)
        func path(_ name: String) -> String { url.appendingPathComponent(name).path }

        // Byte-wise order of video file names: "Z" < "a" < ..., "x1-2.mp4" < "x1.mp4" ('-' < '.'), "é" last.
        #expect(corpus.episodes.map(\.video) == ["Z.mp4", "a.MKV", "b.mp4", "c.avi", "e.mp4", "g.mp4", "x1-2.mp4", "x1.mp4", "é.mp4"].map(path))
        #expect(corpus.episodes.map(\.name) == ["Z", "a", "b", "c", "e", "g", "x1-2", "x1", "é"])
        #expect(corpus.episodes.map(\.transcript) == ["Z.csv", "a.vtt", "b.srt", nil, "e.vtt", "g.srt", "x1-2.srt", "x1.srt", "é.SRT"].map { $0.map(path) })
        #expect(corpus.episodes.map(\.format) == [.csv, .vtt, .srt, nil, .vtt, .srt, .srt, .srt, .srt])
        #expect(corpus.episodes.map(\.utterances.count) == [4, 6, 6, 0, 0, 6, 6, 6, 6])
        #expect(corpus.problems == [
            .severalTranscripts(chosen: path("a.vtt"), ignored: [path("a.srt")]),
            .missingTranscript(video: path("c.avi")),
            .missingVideo(transcript: path("d.csv")),
            .unreadableTranscript(CorpusError(file: path("e.vtt"), line: 1, message:
                "not a WebVTT file: the first line must be \"WEBVTT\", found \"1\"")),
            .severalVideos(chosen: path("g.mp4"), ignored: [path("g.avi")]),
            .missingVideo(transcript: path("sub.srt")),
        ])
        #expect(corpus.problems[1].description == "\(path("c.avi")): no transcript of the same name (.srt, .vtt, .json or .csv); the episode is skipped")
        #expect(corpus.problems[3].description == "\(path("e.vtt")):1: not a WebVTT file: the first line must be \"WEBVTT\", found \"1\"; the episode is skipped")
        // voices.vtt's one warning, named with its path in the folder.
        let unnamed = corpus.unnamedSpeakers
        #expect(corpus.warnings
                == [CorpusWarning(file: path("a.vtt"), line: 33, message: "text after a blank line, appended to the cue at line 29")])
        // Cues without a speaker: one warning per transcript, with the count and the first cue's line.
        #expect(unnamed.contains(CorpusWarning(file: path("a.vtt"), line: 24, message:
            "2 of 6 cues have no speaker (the first here); their utterances get an empty speaker")))
        #expect(unnamed.count == 7)
        #expect(corpus.messages.count == corpus.problems.count + corpus.warnings.count + corpus.unnamedSpeakers.count)

        let all = corpus.utterances
        #expect(all.count == 40)
        #expect(corpus.turns.count == 40)
        // The MELD-like fields of an utterance.
        let b = try #require(corpus.episodes.first { $0.name == "b" }).utterances
        #expect(b[0] == Utterance(dialogue: "b#0", index: 0, speaker: "JOEY", text: "How you doin'?",
                                  startTime: "1.0", endTime: "2.5", videoPath: "b.mp4", line: 2, cue: 0, episode: "b",
                                  transcript: "b.srt"))
        #expect(b.map(\.cue) == [0, 1, 2, 3, 4, 5])
        #expect(b.map(\.dialogue) == Array(repeating: "b#0", count: 6)) // the 5.0 s gap is not MORE than 5
        #expect(b.map(\.index) == [0, 1, 2, 3, 4, 5])
        #expect(b[4].startSeconds == 13.5)
        #expect(b[4].endSeconds == 14)
        // A dialogue column decides alone: Z's rows a,a,b,a with a 99 s gap inside the first "a".
        let z = corpus.episodes[0].utterances
        #expect(z.map(\.dialogue) == ["Z#0", "Z#0", "Z#1", "Z#2"])
        #expect(z.map(\.index) == [0, 1, 0, 0])
        #expect(z[0].speaker == "MONICA" && z[0].text == "One.")
        // WebVTT: 14 s of silence before "Later that day." opens a dialogue.
        let a = corpus.episodes[1].utterances
        #expect(a.map(\.dialogue) == ["a#0", "a#0", "a#0", "a#0", "a#1", "a#1"])
        #expect(a.map(\.speaker) == ["Monica", "Joey", "RACHEL", "", "", "Joey"])
        #expect(a.allSatisfy { $0.videoPath == "a.MKV" && $0.utteranceID == nil && $0.gold == nil && $0.wavPath == nil })
    }

    @Test func gapBoundaryIsExact() throws {
        // Gaps of 0.1 s, 0.0 s, 5.0 s, 1.5 s and 1.0 s between the cues of quirks.srt.
        let srt = String(decoding: try fixture("quirks.srt"), as: UTF8.self)
        func dialogues(_ gap: Double) throws -> [String] { try utterances(srt, .srt, gap: gap).map(\.dialogue) }
        #expect(try dialogues(5) == ["ep#0", "ep#0", "ep#0", "ep#0", "ep#0", "ep#0"])
        #expect(try dialogues(4.999999) == ["ep#0", "ep#0", "ep#0", "ep#1", "ep#1", "ep#1"])
        #expect(try dialogues(1) == ["ep#0", "ep#0", "ep#0", "ep#1", "ep#2", "ep#2"])
        #expect(try dialogues(0) == ["ep#0", "ep#1", "ep#1", "ep#2", "ep#3", "ep#4"])
        #expect(try dialogues(.infinity) == Array(repeating: "ep#0", count: 6))

        // Decimal seconds that are not exact in binary: 0.3 - 0.1 is 0.19999999999999998 in
        // Double, but the gap is exactly 0.2 s here, and 0.2 does not split.
        let csv = "start,end,text\n0,0.1,a\n0.3,0.4,b\n0.600001,0.7,c\n"
        #expect(try utterances(csv, gap: 0.2).map(\.dialogue) == ["ep#0", "ep#0", "ep#1"])
        #expect(try utterances(csv, gap: 0.2).map(\.index) == [0, 1, 0])
        #expect(try utterances(csv, gap: 0.199999).map(\.dialogue) == ["ep#0", "ep#1", "ep#2"])
    }

    @Test func gapFromTheLatestEndAndUntimedCues() throws {
        // A long cue overlaps the next two; the gap counts from the latest end (10), not from the
        // previous cue's end (2). A cue without times never opens a dialogue, nor moves the end.
        let csv = """
            start,end,speaker,text
            0,10,A,long
            1,2,B,short
            11,12,A,after the long one
            x,y,B,untimed
            20,21,A,later
            """
        let u = try utterances(csv, gap: 5)
        #expect(u.map(\.dialogue) == ["ep#0", "ep#0", "ep#0", "ep#0", "ep#1"])
        #expect(u.map(\.index) == [0, 1, 2, 3, 0])
        #expect(u[3].startTime == nil && u[3].endTime == nil && u[3].startSeconds == nil)
        #expect(u.map(\.line) == [2, 3, 4, 5, 6])
        #expect(u.map(\.speaker) == ["A", "B", "A", "B", "A"])
        #expect(u.allSatisfy { $0.videoPath == "/v/ep.mp4" })
        // Untimed first cue still opens #0.
        #expect(try utterances("start,end,text\n,,a\n1,2,b\n", gap: 0).map(\.dialogue) == ["ep#0", "ep#0"])
    }

    @Test func foldersThatAreNotCorpora() throws {
        let onlyVideos = try folder(["a.mp4": video, "b.srt": try fixture("quirks.srt")])
        defer { try? FileManager.default.removeItem(at: onlyVideos) }
        #expect(throws: CorpusError(file: onlyVideos.path, line: nil, message:
            "no episode: no video (.mp4, .mkv, .avi, .mov, .webm) has a transcript (.srt, .vtt, .json, .csv) of the same name (1 videos, 1 transcripts)")) {
            try EpisodeCorpus.read(folder: onlyVideos, dialogueGap: 5)
        }
        #expect(!EpisodeCorpus.isEpisodeFolder(onlyVideos))
        let missing = onlyVideos.appendingPathComponent("nope")
        #expect(throws: CorpusError.self) { try EpisodeCorpus.read(folder: missing, dialogueGap: 5) }
        #expect(!EpisodeCorpus.isEpisodeFolder(missing))
        #expect(!EpisodeCorpus.isEpisodeFolder(try transcriptFixture("quirks.srt"))) // a file, not a folder

        let good = try folder(["ep.mp4": video, "ep.vtt": try fixture("voices.vtt")])
        defer { try? FileManager.default.removeItem(at: good) }
        #expect(EpisodeCorpus.isEpisodeFolder(good))
        for gap in [-1, Double.nan] {
            #expect(throws: CorpusError.self) { try EpisodeCorpus.read(folder: good, dialogueGap: gap) }
        }
        let corpus = try EpisodeCorpus.read(folder: good)
        #expect(corpus.utterances.map(\.dialogue) == ["ep#0", "ep#0", "ep#0", "ep#0", "ep#1", "ep#1"])
        #expect(corpus.problems.isEmpty)
    }
}
