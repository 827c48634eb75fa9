import Foundation
import TelmeFiles
import TelmeModels
import TelmeMedia

/// One problem `telme validate` found, at a file and, where it has one, a line and an utterance.
public struct ValidationProblem: Codable, Sendable, Equatable, CustomStringConvertible {
    /// What kind of problem, for scripts.
    public enum Kind: String, Codable, Sendable, CaseIterable {
        /// A media file the corpus names does not exist (or an episode lacks its transcript or video).
        case missingMedia = "missing-media"
        /// The container cannot be opened or probed (truncated, empty, not media).
        case unreadableMedia = "unreadable-media"
        /// No audio stream, or one without a usable decoder.
        case noAudio = "no-audio"
        /// No video stream, or one that decodes to no frame.
        case noVideo = "no-video"
        /// A clip over the authors' duration limit (zero audio and video), or an utterance span
        /// outside its media.
        case duration
        /// A corpus CSV's time that is not a time, negative, or an end before its start, or an
        /// utterance span over the duration limit.
        case time
        /// Bytes that are not UTF-8 (replaced with U+FFFD when annotating).
        case encoding
        /// A (dialogue, utterance) id that appears twice.
        case duplicateID = "duplicate-id"
        /// A media path that leads outside the corpus root.
        case outsideRoot = "outside-root"
        /// What an episode transcript's reader warns about (cue times it cannot use, cue order,
        /// dialogues coming back, ...).
        case transcript
    }

    public var kind: Kind
    /// The transcript or media file concerned.
    public var file: String
    /// 1-based line in the transcript, when the problem is at one.
    public var line: Int?
    /// The first utterance concerned (dialogue id and 0-based index), when there is one.
    public var dialogue: String?
    public var utterance: Int?
    /// For a media file's problem: the utterance's line in its transcript.
    public var transcriptLine: Int?
    public var message: String

    public init(kind: Kind, file: String, line: Int? = nil, dialogue: String? = nil, utterance: Int? = nil,
                transcriptLine: Int? = nil, message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.dialogue = dialogue
        self.utterance = utterance
        self.transcriptLine = transcriptLine
        self.message = message
    }

    /// `file[:line][: dialogue D utterance U[ (transcript line N)]]: message`, one line.
    public var description: String {
        var text = file
        if let line { text += ":\(line)" }
        if let dialogue, let utterance { text += ": dialogue \(dialogue) utterance \(utterance)" }
        if let transcriptLine { text += " (transcript line \(transcriptLine))" }
        return (text + ": " + message).oneLine
    }
}

/// What `telme validate` found in a corpus.
public struct ValidationReport: Codable, Sendable {
    public var corpus: String
    public var layout: String
    public var utterances: Int
    /// Distinct media files probed.
    public var mediaFiles: Int
    public var problems: [ValidationProblem]
    public var isClean: Bool { problems.isEmpty }
}

/// Checks a corpus before a long run, as `annotate` would read it, without decoding the media:
/// every media file is opened and probed once (`avformat_find_stream_info`), its audio decoder
/// opened and its first video frame decoded.
public struct CorpusValidator {
    /// The layout's media, or nil for transcripts only.
    public var locator: MediaLocator?
    /// Which media the model reads (both when no model is given).
    public var needAudio = true
    public var needVideo = true
    /// The authors' limit for whole clips (MELD: 30 s), nil for none.
    public var durationLimit: Double?

    /// `locator` decides where media are and which lie outside the corpus root (as for annotate).
    public init(locator: MediaLocator?, needAudio: Bool = true, needVideo: Bool = true, durationLimit: Double?) {
        self.locator = locator
        self.needAudio = needAudio
        self.needVideo = needVideo
        self.durationLimit = durationLimit
    }

    /// What a media file told the probe.
    private struct Probe {
        var problems: [(ValidationProblem.Kind, String)] = []
        var duration: Double?
    }

    /// Validates `corpus`; `warnings` are the reader's (each becomes a problem at its line).
    public func validate(_ corpus: Corpus, warnings: [CorpusWarning], episodeProblems: [EpisodeProblem] = [])
        -> ValidationReport {
        var problems: [ValidationProblem] = []
        problems += readingProblems(warnings, episodeProblems: episodeProblems)
        problems += timeAndIDProblems(corpus)

        var probes: [String: Probe] = [:]
        var reported = Set<String>()
        for u in corpus.utterances {
            guard let source = locator?.source(for: u), source.unavailable == nil else { continue }
            var paths: [(String, audio: Bool, video: Bool)] = []
            if let audio = source.audioPath { paths.append((audio, needAudio, needVideo && source.videoPath == audio)) }
            if let video = source.videoPath, video != source.audioPath { paths.append((video, false, needVideo)) }
            for (path, audio, video) in paths {
                // Refused by the locator: annotate never opens it.
                if let refusal = path == source.audioPath ? source.audioRefused : source.videoRefused {
                    if reported.insert(path).inserted {
                        problems.append(ValidationProblem(kind: .outsideRoot, file: path, dialogue: u.dialogue,
                                                          utterance: u.index, transcriptLine: u.line, message: refusal))
                    }
                    continue
                }
                let probe = probes[path] ?? probe(path, audio: audio, video: video)
                probes[path] = probe
                if reported.insert(path).inserted {
                    for (kind, message) in probe.problems {
                        problems.append(ValidationProblem(kind: kind, file: path, dialogue: u.dialogue,
                                                          utterance: u.index, transcriptLine: u.line, message: message))
                    }
                    if case .wholeFile = source.frameRule, let limit = durationLimit, let duration = probe.duration,
                       duration > limit {
                        problems.append(ValidationProblem(kind: .duration, file: path, dialogue: u.dialogue,
                                                          utterance: u.index, transcriptLine: u.line, message: String(format:
                            "lasts %.2f s, over %g s: annotate gives it zero audio and video (the authors' rule)",
                            duration, limit)))
                    }
                }
                // A span of the file (an episode's cue, an IEMOCAP dialogue video's window) must lie within it.
                let spanned = (path == source.audioPath && source.audioStart != nil)
                    || (path == source.videoPath && source.frameRule != .wholeFile)
                if spanned, let duration = probe.duration, let start = u.startSeconds, start > duration + 1 {
                    problems.append(ValidationProblem(kind: .duration, file: path, dialogue: u.dialogue,
                                                      utterance: u.index, transcriptLine: u.line, message: String(format:
                        "starts at %.3f s, after the end of the file (%.3f s)", start, duration)))
                }
            }
        }
        // The reader names the corpus file by its full path; problems name it as the user did.
        let fullPath = URL(fileURLWithPath: corpus.file).path
        for index in problems.indices where problems[index].file == fullPath { problems[index].file = corpus.file }
        problems.sort { ($0.file, $0.line ?? $0.transcriptLine ?? 0) < ($1.file, $1.line ?? $1.transcriptLine ?? 0) }
        return ValidationReport(corpus: corpus.file, layout: corpus.layout.rawValue, utterances: corpus.utterances.count,
                                mediaFiles: probes.count, problems: problems)
    }

    /// The reader's warnings and an episode folder's problems, by kind.
    private func readingProblems(_ warnings: [CorpusWarning], episodeProblems: [EpisodeProblem]) -> [ValidationProblem] {
        var encoding: [String: [CorpusWarning]] = [:]
        var problems: [ValidationProblem] = []
        for warning in warnings {
            if encoding[warning.file] == nil {
                let bytes = (try? Data(contentsOf: URL(fileURLWithPath: warning.file))).map { [UInt8]($0) } ?? []
                encoding[warning.file] = CSVReader.invalidUTF8Warnings(bytes, file: warning.file)
            }
            let kind: ValidationProblem.Kind = encoding[warning.file]?.contains(warning) == true ? .encoding : .transcript
            problems.append(ValidationProblem(kind: kind, file: warning.file, line: warning.line, message: warning.message))
        }
        for problem in episodeProblems {
            switch problem {
            case .missingTranscript(let video):
                problems.append(ValidationProblem(kind: .missingMedia, file: video,
                                                  message: "no transcript of the same name; the episode is skipped"))
            case .missingVideo(let transcript):
                problems.append(ValidationProblem(kind: .missingMedia, file: transcript,
                                                  message: "no video of the same name; the transcript is ignored"))
            case .unreadableTranscript(let error):
                problems.append(ValidationProblem(kind: .transcript, file: error.file, line: error.line,
                                                  message: error.message + "; the episode is skipped"))
            case .severalVideos(let chosen, _), .severalTranscripts(let chosen, _):
                problems.append(ValidationProblem(kind: .transcript, file: chosen, message: problem.description))
            }
        }
        return problems
    }

    /// Times the CSV gives (not a time, negative, end before start) and duplicate ids.
    private func timeAndIDProblems(_ corpus: Corpus) -> [ValidationProblem] {
        var problems: [ValidationProblem] = []
        var seen: [String: Int] = [:]  // "dialogue\0utterance id" -> first line
        for u in corpus.utterances {
            func problem(_ kind: ValidationProblem.Kind, _ message: String) {
                problems.append(ValidationProblem(kind: kind, file: corpus.file, line: u.line, dialogue: u.dialogue,
                                                  utterance: u.index, message: message))
            }
            // Episodes' times were checked by the transcript reader (its warnings).
            if corpus.layout != .episodes {
                let start = Self.time(u.startTime), end = Self.time(u.endTime)
                for (name, text, value) in [("start", u.startTime, start), ("end", u.endTime, end)] {
                    guard let text, !text.trimmingCharacters(in: .whitespaces).isEmpty else { continue }
                    if value == nil {
                        problem(.time, "\(name) time \"\(text)\" is not a time")
                    } else if let value, value < 0 {
                        problem(.time, "\(name) time \(value) s is negative")
                    }
                }
                if let start, let end, start >= 0, end < start {
                    problem(.time, "ends (\(end) s) before it starts (\(start) s)")
                }
                // Longer than a clip may be (MELD), or than any utterance plausibly is (an hour).
                let longest = durationLimit ?? 3600
                if let start, let end, start >= 0, end - start > longest {
                    problem(.time, String(format: "spans %.3f s (%.3f to %.3f s), over %g s", end - start, start, end, longest))
                }
            }
            if let id = u.utteranceID {
                let key = u.dialogue + "\u{0}" + id
                if let first = seen[key] {
                    problem(.duplicateID, "dialogue \(u.dialogue) utterance id \(id) appears again (first at line \(first))")
                } else {
                    seen[key] = u.line
                }
            }
        }
        return problems
    }

    private static func time(_ text: String?) -> Double? {
        text.flatMap(Corpus.seconds)
    }

    /// Opens the file and probes its streams; decodes one video frame when video is needed.
    private func probe(_ path: String, audio: Bool, video: Bool) -> Probe {
        var probe = Probe()
        guard FileManager.default.fileExists(atPath: path) else {
            probe.problems.append((.missingMedia, "no such file"))
            return probe
        }
        let file: MediaFile
        do {
            file = try MediaFile(path: path)
        } catch {
            probe.problems.append((.unreadableMedia, error.detail))
            return probe
        }
        probe.duration = file.duration
        if audio {
            if !file.hasAudio {
                probe.problems.append((.noAudio, "no audio stream"))
            } else {
                do { _ = try file.audioFormat() } catch { probe.problems.append((.noAudio, error.detail)) }
            }
        }
        if video {
            if !file.hasVideo {
                probe.problems.append((.noVideo, "no video stream"))
            } else {
                do {
                    if try file.allFrames(limit: 1).isEmpty {
                        probe.problems.append((.noVideo, "the video stream has no frame"))
                    }
                } catch {
                    probe.problems.append((.noVideo, error.detail))
                }
            }
        }
        return probe
    }
}
