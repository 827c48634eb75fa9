import Foundation
import TelmeMedia

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
