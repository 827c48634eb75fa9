import Foundation
import TelmeModels
import TelmeTensor

/// Where one utterance's audio and frames come from.
public struct MediaSource: Equatable, Sendable {
    /// File holding the utterance's audio (a clip, an utterance wav, an episode).
    public var audioPath: String?
    /// Seconds within `audioPath`; nil for the whole file.
    public var audioStart: Double?
    public var audioEnd: Double?
    /// File holding the frames (a clip, a dialogue video, an episode).
    public var videoPath: String?
    public var frameRule: FrameRule
    /// Why the utterance's media cannot be cut from its files at all (e.g. a cue without
    /// usable times); both modalities are then missing with this note.
    public var unavailable: String?
    /// Why `audioPath` / `videoPath` may not be read (outside the corpus root): that modality's
    /// status is then `error` with this note, and the file is not opened.
    public var audioRefused: String?
    public var videoRefused: String?

    public init(audioPath: String?, audioStart: Double? = nil, audioEnd: Double? = nil, videoPath: String?,
                frameRule: FrameRule, unavailable: String? = nil) {
        self.audioPath = audioPath
        self.audioStart = audioStart
        self.audioEnd = audioEnd
        self.videoPath = videoPath
        self.frameRule = frameRule
        self.unavailable = unavailable
    }

    /// The file a record names as its source.
    public var primaryPath: String? { videoPath ?? audioPath }
}

/// Finds each utterance's media from the corpus layout.
///
/// - `meld`: the clip `dia{Dialogue_ID}_utt{Utterance_ID}.mp4` in `clipFolder` when given,
///   otherwise the CSV's `Video_Path`; audio and frames from the whole clip.
/// - `iemocap`: audio from `Wav_Path`; frames from `Video_Path` between start − margin and
///   end + margin (the authors' rule).
/// - `episodes`: audio and frames of the episode between the cue's start and end.
///
/// Relative paths are resolved against `root` (the transcript's folder unless `--media` says
/// otherwise). Paths stay as relative as the user gave them, so that records name the same
/// files on every machine.
///
/// Every file must lie under the corpus root (`clipFolder` when given, else `root`), once
/// symbolic links and `..` are resolved, unless `allowOutsideRoot`: a corpus cannot make the
/// tool read `/etc/...` or `../../private`. A file outside is refused: its modality gets the
/// status `error` with a note naming the path and the corpus line, and the run goes on.
public struct MediaLocator: Sendable {
    public var layout: CorpusLayout
    public var root: String
    public var clipFolder: String?
    public var videoMarginSeconds: Double
    public var allowOutsideRoot: Bool

    public init(layout: CorpusLayout, root: String, clipFolder: String? = nil, videoMarginSeconds: Double,
                allowOutsideRoot: Bool = false) {
        self.layout = layout
        self.root = root
        self.clipFolder = clipFolder
        self.videoMarginSeconds = videoMarginSeconds
        self.allowOutsideRoot = allowOutsideRoot
    }

    /// The media of `utterance`, or nil when the corpus names none (a transcript-only run);
    /// files outside the corpus root are marked refused.
    public func source(for u: Utterance) -> MediaSource? {
        guard var source = locate(u) else { return nil }
        guard !allowOutsideRoot else { return source }
        let corpusRoot = Self.resolved(clipFolder ?? root)
        /// `written` is the corpus's own value (the CSV cell), when there is one.
        func refusal(_ path: String?, _ column: String, _ written: String?) -> String? {
            guard let path else { return nil }
            let real = Self.resolved(path)
            guard real != corpusRoot, !real.hasPrefix(corpusRoot == "/" ? "/" : corpusRoot + "/") else { return nil }
            return "\(column) \"\(written ?? path)\" (line \(u.line)) is \(real), outside the corpus root \(corpusRoot); "
                + "--allow-outside-root reads it"
        }
        switch layout {
        case .meld:
            let (column, written) = clipFolder == nil ? ("Video_Path", u.videoPath) : ("clip", nil)
            source.audioRefused = refusal(source.audioPath, column, written)
            source.videoRefused = source.audioRefused
        case .iemocap:
            source.audioRefused = refusal(source.audioPath, "Wav_Path", u.wavPath)
            source.videoRefused = refusal(source.videoPath, "Video_Path", u.videoPath)
        case .episodes:
            source.audioRefused = refusal(source.audioPath, "episode", nil)
            source.videoRefused = source.audioRefused
        }
        return source
    }

    /// `path` made absolute with its symbolic links and `..` resolved: the longest part of it
    /// that exists by `realpath`, the rest by its names (a file under a folder that does not
    /// exist cannot be opened, whatever it is called).
    public static func resolved(_ path: String) -> String {
        var head = path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
        var tail: [Substring] = []
        while true {
            if let real = realpath(head, nil) {
                defer { free(real) }
                var parts = String(cString: real).split(separator: "/")
                for name in tail where name != "." && !name.isEmpty {
                    if name == ".." { _ = parts.popLast() } else { parts.append(name) }
                }
                return "/" + parts.joined(separator: "/")
            }
            guard let slash = head.lastIndex(of: "/"), head != "/" else { return "/" }
            tail.insert(head[head.index(after: slash)...], at: 0)
            head = slash == head.startIndex ? "/" : String(head[..<slash])
        }
    }

    /// The media file a record names as its source: the path as the corpus names it, relative
    /// to the corpus root (`--media`, the CSV's folder, the episodes folder) with `./` removed;
    /// nil when the corpus names none. MELD with a clip folder: `dia{D}_utt{U}.mp4`; IEMOCAP:
    /// `Video_Path` (else `Wav_Path`); episodes: the episode's video. An absolute path in the
    /// corpus stays absolute. It does not depend on the working directory or on `--text-only`.
    public func recordSource(for u: Utterance) -> String? {
        let named: String?
        switch layout {
        case .meld: named = clipFolder != nil ? "dia\(u.dialogue)_utt\(u.utteranceID ?? String(u.index)).mp4" : u.videoPath
        case .iemocap: named = [u.videoPath, u.wavPath].compactMap { $0 }.first { !$0.isEmpty }
        case .episodes: named = u.videoPath
        }
        guard let named, !named.isEmpty else { return nil }
        return named.hasPrefix("/") ? named : Self.join(".", named)
    }

    private func locate(_ u: Utterance) -> MediaSource? {
        switch layout {
        case .meld:
            let clip: String?
            if let clipFolder {
                clip = Self.join(clipFolder, "dia\(u.dialogue)_utt\(u.utteranceID ?? String(u.index)).mp4")
            } else {
                clip = resolve(u.videoPath)
            }
            guard let clip else { return nil }
            return MediaSource(audioPath: clip, videoPath: clip, frameRule: .wholeFile)
        case .iemocap:
            let wav = resolve(u.wavPath), video = resolve(u.videoPath)
            guard wav != nil || video != nil else { return nil }
            let rule: FrameRule = .dialogueWindow(start: u.startSeconds ?? .nan, end: u.endSeconds ?? .nan,
                                                  margin: videoMarginSeconds)
            return MediaSource(audioPath: wav, videoPath: video, frameRule: rule)
        case .episodes:
            guard let video = resolve(u.videoPath) else { return nil }
            guard let start = u.startSeconds, let end = u.endSeconds else {
                return MediaSource(audioPath: video, videoPath: video, frameRule: .range(start: 0, end: 0),
                                   unavailable: "the cue has no usable start and end times")
            }
            return MediaSource(audioPath: video, audioStart: start, audioEnd: end, videoPath: video,
                               frameRule: .range(start: start, end: end))
        }
    }

    private func resolve(_ path: String?) -> String? {
        guard let path, !path.isEmpty else { return nil }
        return path.hasPrefix("/") ? path : Self.join(root, path)
    }

    /// `folder/path` without `.` components and doubled slashes (`..` is kept as written).
    static func join(_ folder: String, _ path: String) -> String {
        let absolute = folder.hasPrefix("/")
        let parts = (folder + "/" + path).split(separator: "/").filter { $0 != "." }
        let joined = parts.joined(separator: "/")
        return absolute ? "/" + joined : (joined.isEmpty ? "." : joined)
    }
}

/// One utterance's prepared model inputs, with what happened to each modality.
public struct MediaInputs: Sendable {
    /// Normalised audio, or nil when the audio student gets nothing.
    public var audio: [Float]?
    public var audioStatus: ModalityStatus
    /// `[frames, 3, H, W]` normalised, or nil when the video student gets nothing.
    public var video: Tensor?
    public var videoStatus: ModalityStatus
    /// Why a modality is not `ok`, one clause each.
    public var notes: [String]
}

/// Decodes and preprocesses utterances' media as the authors' pipeline does, turning every
/// failure into a status and a note instead of an error: one bad file never stops a run.
public final class MediaLoader {
    public let settings: Settings
    public let needAudio: Bool
    public let needVideo: Bool
    /// Fewer samples than this cannot pass the audio student's conv stack.
    public let minimumAudioSamples: Int
    private let audioPreprocessor: AudioPreprocessor
    private let videoPreprocessor: VideoPreprocessor
    /// Recently opened files: an IEMOCAP dialogue video or an episode serves many utterances.
    private var open: [(path: String, file: MediaFile)] = []
    private let keepOpen = 4

    public init(settings: Settings, imageSize: Int, needAudio: Bool, needVideo: Bool, minimumAudioSamples: Int) {
        self.settings = settings
        self.needAudio = needAudio
        self.needVideo = needVideo
        self.minimumAudioSamples = minimumAudioSamples
        audioPreprocessor = AudioPreprocessor(settings: settings)
        videoPreprocessor = VideoPreprocessor(settings: settings, imageSize: imageSize)
    }

    /// The authors' zero audio.
    public var zeroAudio: [Float] { audioPreprocessor.zeros() }
    /// The authors' zero video.
    public var zeroVideo: Tensor { videoPreprocessor.zeros() }

    /// The inputs of an utterance whose media were not asked for (`--text-only`): the modalities
    /// the model has are `skipped`, without a zero input.
    public var skipped: MediaInputs {
        MediaInputs(audio: nil, audioStatus: needAudio ? .skipped : .missing, video: nil,
                    videoStatus: needVideo ? .skipped : .missing, notes: [])
    }

    /// Prepares the inputs of one utterance. `zeroMissing` substitutes the authors' zero input
    /// for a missing or unreadable modality (status `zeroed`); otherwise it stays absent.
    public func load(_ source: MediaSource?, zeroMissing: Bool) -> MediaInputs {
        var inputs = MediaInputs(audio: nil, audioStatus: .missing, video: nil, videoStatus: .missing, notes: [])
        guard needAudio || needVideo else { return inputs }
        guard let source else {
            inputs.notes.append("no media given")
            return finish(inputs, zeroMissing: zeroMissing)
        }
        if let reason = source.unavailable {
            inputs.notes.append(reason)
            return finish(inputs, zeroMissing: zeroMissing)
        }
        var clipSeconds: Double?
        if needAudio, let refused = source.audioRefused {
            inputs.audioStatus = .error
            let both = needVideo && source.videoRefused == refused
            inputs.notes.append("\(both ? "audio and video" : "audio"): \(refused)")
        } else if needAudio {
            do {
                let file = try mediaFile(source.audioPath, what: "audio")
                guard file.hasAudio else {
                    throw MediaError(path: file.path, kind: .noAudioStream, detail: "no audio stream")
                }
                // A whole clip is decoded at most to 1 s past the over-limit rule's length: that
                // decides the rule exactly, and a 10-hour file is never decoded whole.
                let wholeClipBound = source.audioStart == nil && source.audioEnd == nil
                    ? settings.zeroMediaOverSeconds.map { $0 + 1 } : nil
                let raw = try file.audio(sampleRate: settings.sampleRate, start: source.audioStart,
                                         end: source.audioEnd ?? wholeClipBound)
                clipSeconds = Double(raw.count) / Double(settings.sampleRate)
                if audioPreprocessor.exceedsDurationLimit(sampleCount: raw.count) {
                    // The decode stopped at the bound: the container tells the whole length.
                    return overLimit(inputs, seconds: max(clipSeconds ?? 0, file.duration ?? 0))
                }
                guard raw.count >= minimumAudioSamples else {
                    throw MediaError(path: file.path, kind: .empty, detail:
                        "\(raw.count) audio samples, fewer than the audio model needs (\(minimumAudioSamples))")
                }
                inputs.audio = audioPreprocessor(raw)
                inputs.audioStatus = .ok
            } catch let error as MediaError {
                inputs.audioStatus = Self.status(of: error)
                inputs.notes.append("audio: \(error)")
            } catch {
                inputs.audioStatus = .error
                inputs.notes.append("audio: \(error)")
            }
        }
        var timesKnown = true
        if case .dialogueWindow(let start, let end, _) = source.frameRule, !start.isFinite || !end.isFinite {
            timesKnown = false
            if needVideo { inputs.notes.append("video: the utterance has no usable start and end times") }
        }
        if needVideo, timesKnown, let refused = source.videoRefused {
            inputs.videoStatus = .error
            if !needAudio || source.audioRefused != refused { inputs.notes.append("video: \(refused)") }
        } else if needVideo, timesKnown {
            do {
                let file = try mediaFile(source.videoPath, what: "video")
                guard file.hasVideo else {
                    throw MediaError(path: file.path, kind: .noVideoStream, detail: "no video stream")
                }
                // Without audio to measure, the container's duration decides the over-limit rule.
                if clipSeconds == nil, case .wholeFile = source.frameRule, let limit = settings.zeroMediaOverSeconds,
                   let duration = file.duration, duration > limit {
                    return overLimit(inputs, seconds: duration)
                }
                let frames = try file.frames(source.frameRule, count: settings.numFrames)
                inputs.video = try videoPreprocessor(frames)
                inputs.videoStatus = .ok
            } catch let error as MediaError {
                inputs.videoStatus = Self.status(of: error)
                inputs.notes.append("video: \(error)")
            } catch {
                inputs.videoStatus = .error
                inputs.notes.append("video: \(error)")
            }
        }
        return finish(inputs, zeroMissing: zeroMissing)
    }

    /// The authors' rule for clips over the limit: zero audio and zero video.
    private func overLimit(_ inputs: MediaInputs, seconds: Double) -> MediaInputs {
        var inputs = inputs
        let limit = settings.zeroMediaOverSeconds ?? 0
        inputs.notes.append(String(format: "clip lasts %.2f s, over %g s: zero audio and video (the authors' rule)",
                                   seconds, limit))
        if needAudio { inputs.audio = zeroAudio; inputs.audioStatus = .zeroed }
        if needVideo { inputs.video = zeroVideo; inputs.videoStatus = .zeroed }
        return inputs
    }

    private func finish(_ inputs: MediaInputs, zeroMissing: Bool) -> MediaInputs {
        guard zeroMissing else { return inputs }
        var inputs = inputs
        if needAudio, inputs.audio == nil {
            inputs.audio = zeroAudio
            inputs.audioStatus = .zeroed
            inputs.notes.append("zero audio used")
        }
        if needVideo, inputs.video == nil {
            inputs.video = zeroVideo
            inputs.videoStatus = .zeroed
            inputs.notes.append("zero video used")
        }
        return inputs
    }

    private static func status(of error: MediaError) -> ModalityStatus {
        switch error.kind {
        case .noAudioStream, .noVideoStream: .missing
        case .open: FileManager.default.fileExists(atPath: error.path) ? .error : .missing
        default: .error
        }
    }

    private func mediaFile(_ path: String?, what: String) throws -> MediaFile {
        guard let path else {
            throw MediaError(path: "-", kind: .open, detail: "the corpus names no \(what) file")
        }
        if let index = open.firstIndex(where: { $0.path == path }) {
            let entry = open.remove(at: index)
            open.append(entry)
            return entry.file
        }
        guard FileManager.default.fileExists(atPath: path) else {
            throw MediaError(path: path, kind: .open, detail: "no such file")
        }
        let file = try MediaFile(path: path)
        open.append((path, file))
        if open.count > keepOpen { open.removeFirst() }
        return file
    }
}
