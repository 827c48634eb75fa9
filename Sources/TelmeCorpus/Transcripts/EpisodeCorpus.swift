import Foundation
import TelmeTokenizer

/// A problem with the files of an episodes folder (not at a line of a transcript).
public enum EpisodeProblem: Sendable, Equatable, CustomStringConvertible {
    /// A video with no transcript of the same base name: the episode gives no utterances.
    case missingTranscript(video: String)
    /// A transcript with no video of the same base name: ignored (annotated under `--text-only`).
    case missingVideo(transcript: String)
    /// Several videos share a base name: `chosen` is used (`.mp4`, `.mkv`, `.avi` in that
    /// order, then byte-wise file name), the others are ignored.
    case severalVideos(chosen: String, ignored: [String])
    /// Several transcripts share a base name: `chosen` is used (`.csv`, `.vtt`, `.srt` in that
    /// order, then byte-wise file name), the others are ignored.
    case severalTranscripts(chosen: String, ignored: [String])
    /// The transcript cannot be read or is not of its format: the episode gives no utterances.
    case unreadableTranscript(CorpusError)

    public var description: String {
        switch self {
        case .missingTranscript(let video):
            "\(video): no transcript of the same name (.srt, .vtt, .json or .csv); the episode is skipped"
        case .missingVideo(let transcript):
            "\(transcript): no video of the same name (\(EpisodeCorpus.videoExtensions.map { "." + $0 }.joined(separator: ", "))); "
                + "the transcript is ignored (--text-only annotates it)"
        case .severalVideos(let chosen, let ignored):
            "\(chosen): used; other videos of the same name ignored: \(ignored.joined(separator: ", "))"
        case .severalTranscripts(let chosen, let ignored):
            "\(chosen): used; other transcripts of the same name ignored: \(ignored.joined(separator: ", "))"
        case .unreadableTranscript(let error):
            "\(error); the episode is skipped"
        }
    }
}

/// One episode of an episodes folder.
public struct Episode: Sendable, Equatable {
    /// The video's path in the folder without its extension (`ep01`, `S01/E01`); dialogue ids
    /// start with it.
    public var name: String
    /// Path of the video (the folder's path joined with its path in the folder); nil for a
    /// transcript read without its video (`withoutVideo`).
    public var video: String?
    /// Path of the transcript used, nil when there is none.
    public var transcript: String?
    public var format: TranscriptFormat?
    /// The episode's utterances (empty without a readable transcript).
    public var utterances: [Utterance]

    public init(name: String, video: String?, transcript: String?, format: TranscriptFormat?, utterances: [Utterance]) {
        self.name = name
        self.video = video
        self.transcript = transcript
        self.format = format
        self.utterances = utterances
    }
}

/// The `episodes` layout: a folder of whole episode videos, each with a transcript of the same
/// base name; every cue is an utterance cut from the episode by its times.
///
/// - Several transcripts of one episode: `.csv`, `.json`, `.vtt`, `.srt` in that order is used,
///   with a problem reported, except WhisperX's own set (a `.json` with `.srt` / `.vtt` beside it).
/// - Files: the folder's files and those of its subfolders (`S01/E01.mkv`), up to 8 levels;
///   names starting with `.` are ignored and symbolic links to folders are not followed.
///   Videos end in `.mp4`, `.mkv`, `.avi`, `.mov`, `.webm`, transcripts in `.srt`, `.vtt`,
///   `.json` (WhisperX), `.csv` (any case). A video and its transcript have the same path
///   without the last extension, byte for byte; that path is the episode's name.
/// - Order: episodes sorted by the video's path in the folder, byte-wise (UTF-8); cues in file order.
/// - Dialogues: the first cue of an episode opens dialogue `<name>#0`; a new one (`#1`, `#2`, …)
///   starts at a cue whose start is MORE than `dialogueGap` seconds after the latest end of the
///   cues before it in the dialogue (a gap of exactly `dialogueGap` does not split; times are
///   compared in whole microseconds). A cue without times never starts a dialogue. When a CSV
///   transcript has a dialogue column, that column alone decides: a new dialogue starts where
///   its value differs from the previous row's (compared exactly) and the gap is not used.
/// - Each utterance: `dialogue` as above, `index` its 0-based place in the dialogue, the cue's
///   speaker (empty when unknown) and text, `startTime`/`endTime` as decimal seconds (`12.345`,
///   nil when the cue cannot be placed in time), `videoPath` the episode's video and `transcript`
///   its transcript (both relative to the folder), `episode` the episode's name, `cue` the cue's
///   0-based place in the transcript and `line` the transcript line of the cue (its timing line,
///   or its CSV row), `gold` the cue's gold label (see `TranscriptCue.gold`). `utteranceID` and
///   `wavPath` are nil.
public struct EpisodeCorpus: Sendable {
    /// The folder as given.
    public var folder: String
    /// Every video of the folder in byte-wise name order, including those without transcript.
    public var episodes: [Episode]
    /// Problems at lines of transcripts (invalid UTF-8, unplaceable cues, …).
    public var warnings: [CorpusWarning]
    /// Problems with the files of the folder.
    public var problems: [EpisodeProblem]
    /// One note per transcript with cues without a speaker: how many (not a problem: their
    /// utterances get an empty speaker).
    public var unnamedSpeakers: [CorpusWarning] = []

    public init(folder: String, episodes: [Episode], warnings: [CorpusWarning] = [], problems: [EpisodeProblem] = []) {
        self.folder = folder
        self.episodes = episodes
        self.warnings = warnings
        self.problems = problems
    }

    /// A gap that usually separates scenes in TV episodes; `telme annotate --dialogue-gap` may change it.
    public static let defaultDialogueGap: Double = 5

    public static let videoExtensions = ["mp4", "mkv", "avi", "mov", "webm"]

    /// All utterances, episode after episode.
    public var utterances: [Utterance] { episodes.flatMap(\.utterances) }

    /// The utterances as the teacher's input builder takes them.
    public var turns: [DialogueTurn] { utterances.map(\.turn) }

    /// Problems, warnings and notes as one-line messages, problems first.
    public var messages: [String] {
        problems.map(\.description) + warnings.map(\.description) + unnamedSpeakers.map(\.description)
    }

    /// Whether `folder` is a directory holding at least one video with a transcript of the same name
    /// (for `--layout auto`).
    public static func isEpisodeFolder(_ folder: URL) -> Bool {
        guard let pairs = try? listing(folder) else { return false }
        return pairs.contains { !$0.videos.isEmpty && !$0.transcripts.isEmpty }
    }

    /// Reads every episode of `folder`. One bad transcript only skips its episode (see `problems`);
    /// throws when the folder cannot be listed, when `dialogueGap` is negative or NaN, and when no
    /// episode has both a video and a transcript. `withoutVideo` (`--text-only`) also reads the
    /// transcripts that have no video (their utterances name no media). `only` reads the one
    /// episode of that name (a transcript given as the corpus).
    ///
    /// A transcript that is a symbolic link to a file outside `folder` (once links and `..` are
    /// resolved) is not read unless `allowOutsideRoot`: its episode is skipped with a problem.
    public static func read(folder: URL, dialogueGap: Double = defaultDialogueGap, withoutVideo: Bool = false,
                            only: String? = nil, allowOutsideRoot: Bool = false) throws(CorpusError) -> EpisodeCorpus {
        guard !dialogueGap.isNaN, dialogueGap >= 0 else {
            throw CorpusError(file: folder.path, line: nil, message:
                "the dialogue gap must be a number of seconds >= 0, not \(dialogueGap)")
        }
        let groups = try listing(folder).filter { only == nil || $0.name == only }
        var episodes: [Episode] = []
        var warnings: [CorpusWarning] = []
        var problems: [EpisodeProblem] = []
        var unnamedSpeakers: [CorpusWarning] = []
        for group in groups {
            let videos = group.videos.map { folder.appendingPathComponent($0).path }
            let transcripts = group.transcripts.map { folder.appendingPathComponent($0).path }
            // A transcript without its video counts only under --text-only.
            let video = videos.first
            guard video != nil || (withoutVideo && !transcripts.isEmpty) else {
                problems += transcripts.map { .missingVideo(transcript: $0) }
                continue
            }
            if let video, videos.count > 1 {
                problems.append(.severalVideos(chosen: video, ignored: Array(videos.dropFirst())))
            }
            guard let transcriptPath = transcripts.first else {
                problems.append(.missingTranscript(video: videos[0]))
                episodes.append(Episode(name: group.name, video: video, transcript: nil, format: nil, utterances: []))
                continue
            }
            let format = TranscriptFormat(pathExtension: (group.transcripts[0] as NSString).pathExtension)
            // WhisperX writes its .srt and .vtt beside its .json (`--output_format all`): the JSON
            // is used, and that is no problem. Any other pair is reported.
            let whisperXSet = format == .json && group.transcripts.dropFirst().allSatisfy {
                [.srt, .vtt].contains(TranscriptFormat(pathExtension: ($0 as NSString).pathExtension))
            }
            if transcripts.count > 1, !whisperXSet {
                problems.append(.severalTranscripts(chosen: transcriptPath, ignored: Array(transcripts.dropFirst())))
            }
            do throws(CorpusError) {
                let (transcript, unnamed) = try readTranscript(transcriptPath, format: format, folder: folder,
                                                               allowOutsideRoot: allowOutsideRoot)
                warnings += transcript.warnings
                if let unnamed { unnamedSpeakers.append(unnamed) }
                // Utterances name the video and transcript relative to the folder, so that the
                // records and the run's identity do not depend on where the folder is.
                episodes.append(Episode(name: group.name, video: video, transcript: transcriptPath, format: format,
                                        utterances: utterances(of: transcript, episode: group.name,
                                                               video: group.videos.first, transcript: group.transcripts[0],
                                                               dialogueGap: dialogueGap)))
            } catch {
                problems.append(.unreadableTranscript(error))
                episodes.append(Episode(name: group.name, video: video, transcript: transcriptPath, format: format,
                                        utterances: []))
            }
        }
        try checkSomeEpisode(groups, folder: folder, withoutVideo: withoutVideo)
        var corpus = EpisodeCorpus(folder: folder.path, episodes: episodes, warnings: warnings, problems: problems)
        corpus.unnamedSpeakers = unnamedSpeakers
        return corpus
    }

    /// Reads an episode's transcript, refused when it lies outside `folder` (links and `..`
    /// resolved) unless `allowOutsideRoot`; with one note when some cues name no speaker.
    private static func readTranscript(_ path: String, format: TranscriptFormat?, folder: URL, allowOutsideRoot: Bool)
        throws(CorpusError) -> (Transcript, unnamedSpeakers: CorpusWarning?) {
        if !allowOutsideRoot {
            let root = MediaLocator.resolved(folder.path), real = MediaLocator.resolved(path)
            guard real.hasPrefix(root == "/" ? "/" : root + "/") else {
                throw CorpusError(file: path, line: nil, message:
                    "is \(real), outside the episodes folder \(root); not read (--allow-outside-root reads it)")
            }
        }
        let transcript = try Transcript(contentsOf: URL(fileURLWithPath: path), format: format)
        let unnamed = transcript.cues.filter(\.speaker.isEmpty)
        guard let first = unnamed.first else { return (transcript, nil) }
        // One note per transcript: a count, not a line per cue.
        return (transcript, CorpusWarning(file: path, line: first.line, message:
            "\(unnamed.count) of \(transcript.cues.count) cues have no speaker (the first here); "
            + "their utterances get an empty speaker"))
    }

    /// Throws unless some episode has a transcript and (or, `withoutVideo`) a video.
    private static func checkSomeEpisode(_ groups: [Group], folder: URL, withoutVideo: Bool) throws(CorpusError) {
        let someEpisode = groups.contains { (withoutVideo || !$0.videos.isEmpty) && !$0.transcripts.isEmpty }
        guard !someEpisode else { return }
        let videos = groups.reduce(0) { $0 + $1.videos.count }
        let transcripts = groups.reduce(0) { $0 + $1.transcripts.count }
        throw CorpusError(file: folder.path, line: nil, message:
            "no episode: no video (\(videoExtensions.map { "." + $0 }.joined(separator: ", "))) has a transcript "
            + "(.srt, .vtt, .json, .csv) of the same name (\(videos) videos, \(transcripts) transcripts)")
    }

    /// The utterances of one transcript, split into dialogues by the rule above.
    public static func utterances(of transcript: Transcript, episode: String, video: String?,
                                  transcript transcriptName: String? = nil, dialogueGap: Double) -> [Utterance] {
        // Gaps in whole microseconds; beyond ~1e12 s (or infinite) no gap is long enough.
        let gap: Int64? = dialogueGap.isFinite && dialogueGap < 1e12 ? Int64((dialogueGap * 1e6).rounded()) : nil
        let byColumn = transcript.cues.contains { $0.dialogue != nil }
        var result: [Utterance] = []
        result.reserveCapacity(transcript.cues.count)
        var dialogue = -1
        var index = 0
        var latestEnd: TranscriptTime?
        var previousValue: String?
        for (k, cue) in transcript.cues.enumerated() {
            let opens: Bool
            if k == 0 {
                opens = true
            } else if byColumn {
                opens = cue.dialogue.map { Array($0.utf8) } != previousValue.map { Array($0.utf8) }
            } else if let gap, let start = cue.start, let latestEnd {
                opens = start.microseconds - latestEnd.microseconds > gap
            } else {
                opens = false
            }
            if opens {
                dialogue += 1
                index = 0
                latestEnd = nil
            } else {
                index += 1
            }
            previousValue = cue.dialogue
            if let end = cue.end { latestEnd = max(latestEnd ?? end, end) }
            result.append(Utterance(
                dialogue: "\(episode)#\(dialogue)", index: index, speaker: cue.speaker, text: cue.text, gold: cue.gold,
                startTime: cue.start?.description, endTime: cue.end?.description, videoPath: video, line: cue.line,
                cue: k, episode: episode, transcript: transcriptName))
        }
        return result
    }

    /// Files of one base name.
    struct Group {
        var name: String
        /// File names, best first.
        var videos: [String] = []
        var transcripts: [String] = []
    }

    /// The paths in `folder` of the files in it and in its subfolders (not following links to
    /// folders, nor names starting with `.`), at most `depth` levels down.
    static func files(in folder: URL, under prefix: String = "", depth: Int = 8) throws(CorpusError) -> [String] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: folder.path)
        } catch {
            throw CorpusError(file: folder.path, line: nil, message:
                "cannot list the episodes folder: \((error as NSError).localizedDescription)")
        }
        var found: [String] = []
        for name in names where !name.hasPrefix(".") {
            let url = folder.appendingPathComponent(name)
            let type = (try? FileManager.default.attributesOfItem(atPath: url.path))?[.type] as? FileAttributeType  // lstat
            if type == .typeDirectory {
                if depth > 0 { found += (try? files(in: url, under: prefix + name + "/", depth: depth - 1)) ?? [] }
            } else {
                found.append(prefix + name)
            }
        }
        return found
    }

    /// The folder's videos and transcripts (its subfolders' too) grouped by path without the
    /// extension, in byte-wise order of the best video's path (of the best transcript's for
    /// groups without video).
    static func listing(_ folder: URL) throws(CorpusError) -> [Group] {
        let names = try files(in: folder)
        var groups: [[UInt8]: Group] = [:]
        for name in names {
            let ext = (name as NSString).pathExtension.lowercased()
            let base = (name as NSString).deletingPathExtension
            guard !base.isEmpty else { continue }
            let isVideo = videoExtensions.contains(ext)
            guard isVideo || TranscriptFormat(pathExtension: ext) != nil else { continue }
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path,
                                                 isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let key = Array(base.utf8)
            if isVideo {
                groups[key, default: Group(name: base)].videos.append(name)
            } else {
                groups[key, default: Group(name: base)].transcripts.append(name)
            }
        }
        func rank(_ name: String, _ order: [String]) -> Int {
            order.firstIndex(of: (name as NSString).pathExtension.lowercased()) ?? order.count
        }
        func better(_ order: [String]) -> (String, String) -> Bool {
            { a, b in
                let (ra, rb) = (rank(a, order), rank(b, order))
                return ra != rb ? ra < rb : Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8))
            }
        }
        let transcriptOrder = TranscriptFormat.precedence.map(\.rawValue)
        let sorted = groups.values.map { group in
            var group = group
            group.videos.sort(by: better(videoExtensions))
            group.transcripts.sort(by: better(transcriptOrder))
            return (key: Array((group.videos.first ?? group.transcripts.first ?? group.name).utf8), group: group)
        }
        return sorted.sorted { $0.key.lexicographicallyPrecedes($1.key) }.map(\.group)
    }
}
