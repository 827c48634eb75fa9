import Foundation
import TelmeModels
import TelmeTensor
import TelmeMedia
import TelmeCorpus

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
        } else if needAudio, let seconds = loadAudio(source, into: &inputs, clipSeconds: &clipSeconds) {
            return overLimit(inputs, seconds: seconds)
        }
        var timesKnown = true
        if case .dialogueWindow(let start, let end, _) = source.frameRule, !start.isFinite || !end.isFinite {
            timesKnown = false
            if needVideo { inputs.notes.append("video: the utterance has no usable start and end times") }
        }
        if needVideo, timesKnown, let refused = source.videoRefused {
            inputs.videoStatus = .error
            if !needAudio || source.audioRefused != refused { inputs.notes.append("video: \(refused)") }
        } else if needVideo, timesKnown,
                  let seconds = loadVideo(source, into: &inputs, audioMeasured: clipSeconds != nil) {
            return overLimit(inputs, seconds: seconds)
        }
        return finish(inputs, zeroMissing: zeroMissing)
    }

    /// Decodes and preprocesses the audio into `inputs` (or its status and note), setting
    /// `clipSeconds` to what was decoded. Returns the clip's length when it is over the authors'
    /// duration limit, leaving `inputs` as it was.
    private func loadAudio(_ source: MediaSource, into inputs: inout MediaInputs,
                           clipSeconds: inout Double?) -> Double? {
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
                return max(clipSeconds ?? 0, file.duration ?? 0)
            }
            guard raw.count >= minimumAudioSamples else {
                throw MediaError(path: file.path, kind: .empty, detail:
                    "\(raw.count) audio samples, fewer than the audio model needs (\(minimumAudioSamples))")
            }
            inputs.audio = audioPreprocessor(raw)
            inputs.audioStatus = .ok
        } catch {
            inputs.audioStatus = Self.status(of: error)
            inputs.notes.append("audio: \(error)")
        }
        return nil
    }

    /// Decodes and preprocesses the frames into `inputs` (or its status and note). Without
    /// `audioMeasured`, returns the container's duration when a whole clip is over the authors'
    /// limit, leaving `inputs` as it was.
    private func loadVideo(_ source: MediaSource, into inputs: inout MediaInputs, audioMeasured: Bool) -> Double? {
        do {
            let file = try mediaFile(source.videoPath, what: "video")
            guard file.hasVideo else {
                throw MediaError(path: file.path, kind: .noVideoStream, detail: "no video stream")
            }
            // Without audio to measure, the container's duration decides the over-limit rule.
            if !audioMeasured, case .wholeFile = source.frameRule, let limit = settings.zeroMediaOverSeconds,
               let duration = file.duration, duration > limit {
                return duration
            }
            let frames = try file.frames(source.frameRule, count: settings.numFrames)
            inputs.video = try videoPreprocessor(frames)
            inputs.videoStatus = .ok
        } catch {
            inputs.videoStatus = Self.status(of: error)
            inputs.notes.append("video: \(error)")
        }
        return nil
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

    /// The status of a modality that could not be read: `missing` when its file or stream is
    /// absent, else `error`.
    private static func status(of error: any Error) -> ModalityStatus {
        guard let error = error as? MediaError else { return .error }
        return switch error.kind {
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
