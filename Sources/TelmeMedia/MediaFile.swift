import Foundation
internal import CFFmpeg

/// Which frames of a video reach the video student (see `FrameSelection` for the rules).
public enum FrameRule: Sendable, Equatable {
    /// MELD: the file is one utterance; `step = L / count` with `L` the frame count the container
    /// declares, frames `step, 2 step, ...` (or the first `count` when `L < count`).
    case wholeFile
    /// IEMOCAP: the file is a dialogue; frames numbered from the file's start between
    /// `fps * max(start - margin, 0)` and `fps * (end + margin)`, every `fps * window // count`-th.
    case dialogueWindow(start: Double, end: Double, margin: Double)
    /// Episodes: the frames presented in `[start, end)` seconds, numbered from 1 within the range
    /// and picked with the `wholeFile` rule as if the range had been cut into its own clip
    /// (`L` = number of frames in the range).
    case range(start: Double, end: Double)
}

/// What a container says about its video stream, as OpenCV reports it.
public struct VideoInfo: Sendable, Equatable {
    /// Size of the frames `frames(_:count:)` returns.
    public var width: Int
    public var height: Int
    /// `CAP_PROP_FPS`.
    public var fps: Double
    /// `CAP_PROP_FRAME_COUNT` (the container's count, or duration x fps; may be 0 for broken files).
    public var declaredFrameCount: Int
    /// Clockwise rotation (0, 90, 180, 270) the display matrix asks for, as
    /// `CAP_PROP_ORIENTATION_META`. Not applied: OpenCV 4.11 does not by default either.
    public var rotation: Int
}

/// One opened media file serving any number of utterances: a clip (MELD), a dialogue video or an
/// utterance wav (IEMOCAP), or a whole episode.
///
/// Audio is decoded once, forward, and sliced by time (requests in increasing start order stream
/// through the file; an earlier start than what is still buffered reopens it). Video is decoded
/// per request, from the start for `.wholeFile` and by seeking to the keyframe before the range
/// otherwise, so an episode is never decoded whole for one utterance. Calls are serialised by a
/// lock; use one `MediaFile` per file and thread for parallel work.
public final class MediaFile: @unchecked Sendable {
    public let path: String
    /// Container duration in seconds, when known.
    public let duration: Double?
    public let hasAudio: Bool
    public let hasVideo: Bool
    /// Decoder threads for video (OpenCV uses one per core; the output is the same).
    public let decoderThreads: Int

    /// Audio kept behind the latest request, so overlapping utterances need no reopening.
    public let audioLookbehindSeconds: Double

    private let lock = NSLock()
    private var audioTrack: AudioTrack?
    private var videoTrack: VideoTrack?

    /// Opens and probes `path` (`avformat_open_input`, `avformat_find_stream_info`).
    /// Throws `.open` for missing, empty or unrecognised files.
    public init(path: String, decoderThreads: Int = 1, audioLookbehindSeconds: Double = 120) throws(MediaError) {
        self.path = path
        self.decoderThreads = max(1, min(decoderThreads, 16))
        self.audioLookbehindSeconds = audioLookbehindSeconds.isFinite ? max(audioLookbehindSeconds, 0) : 120
        let probe = try FormatContext(path: path)
        var audio = false, video = false
        for i in 0..<probe.streamCount {
            guard let type = probe.stream(i)?.pointee.codecpar?.pointee.codec_type else { continue }
            if type == AVMEDIA_TYPE_AUDIO { audio = true }
            if type == AVMEDIA_TYPE_VIDEO { video = true }
        }
        hasAudio = audio
        hasVideo = video
        let microseconds = probe.pointer.pointee.duration
        duration = microseconds > 0 ? Double(microseconds) / Double(AV_TIME_BASE) : nil
    }

    public convenience init(url: URL, decoderThreads: Int = 1) throws(MediaError) {
        try self.init(path: url.path, decoderThreads: decoderThreads)
    }

    // MARK: Audio

    /// Native sample rate and channel count of the audio stream that is decoded.
    public func audioFormat() throws(MediaError) -> (sampleRate: Int, channels: Int) {
        lock.lock()
        defer { lock.unlock() }
        let track = try openAudio()
        return (track.sampleRate, track.channels)
    }

    /// Mono audio resampled to `sampleRate`, as `librosa.load(path, sr=sampleRate,
    /// offset=start, duration=end - start)` returns it: from sample `int(sr_native * start)`,
    /// `int(sr_native * (end - start))` samples (to the end when `end` is nil), resampled with
    /// soxr HQ. Not normalised (see `AudioPreprocessor`).
    public func audio(sampleRate: Int, start: Double? = nil, end: Double? = nil) throws(MediaError) -> [Float] {
        lock.lock()
        defer { lock.unlock() }
        if let start, !(start.isFinite && start >= 0) {
            throw MediaError(path: path, kind: .invalidRequest, detail: "audio start \(start) s is not a time")
        }
        if let end, !(end.isFinite && end >= (start ?? 0)) {
            throw MediaError(path: path, kind: .invalidRequest,
                             detail: "audio end \(end) s is before the start \(start ?? 0) s")
        }
        // A start past the container's end (with a second of slack for imprecise durations)
        // has nothing to decode: answered without streaming through a long file.
        if let start, let duration, start > duration + 1 {
            throw MediaError(path: path, kind: .empty, detail: "no audio samples between \(start) s and "
                + "\(end.map { "\($0) s" } ?? "the end"): the file ends at \(duration) s")
        }
        var track = try openAudio()
        let rate = Double(track.sampleRate)
        let first = start.map { MediaMath.clampedInt(rate * $0) } ?? 0
        let count = end.map { MediaMath.clampedInt(rate * ($0 - (start ?? 0))) }
        let keep = MediaMath.clampedInt(rate * audioLookbehindSeconds)
        var slice = try track.samples(from: first, count: count, keep: keep)
        if slice == nil {
            track = try AudioTrack(path: path)
            audioTrack = track
            slice = try track.samples(from: first, count: count, keep: keep)
        }
        guard let slice, !slice.isEmpty else {
            let range = start == nil && end == nil ? "" : " between \(start ?? 0) s and \(end.map { "\($0) s" } ?? "the end")"
            let reason = track.endError.map { ": \($0)" } ?? ""
            throw MediaError(path: path, kind: .empty, detail: "no audio samples\(range)\(reason)")
        }
        return try SoxrResampling.resample(slice, from: track.sampleRate, to: sampleRate, path: path)
    }

    private func openAudio() throws(MediaError) -> AudioTrack {
        if let audioTrack { return audioTrack }
        let track = try AudioTrack(path: path)
        audioTrack = track
        return track
    }

    // MARK: Video

    /// The video stream's size, rate and declared frame count.
    public func videoInfo() throws(MediaError) -> VideoInfo {
        lock.lock()
        defer { lock.unlock() }
        let track = try openVideo(fresh: false)
        return VideoInfo(width: track.streamWidth, height: track.streamHeight,
                         fps: track.fps, declaredFrameCount: track.declaredFrameCount, rotation: track.rotation)
    }

    /// Exactly `count` frames picked by `rule`, the last one repeated when fewer exist. Throws
    /// `.empty` when the rule keeps no frame at all.
    public func frames(_ rule: FrameRule, count: Int) throws(MediaError) -> [VideoFrame] {
        lock.lock()
        defer { lock.unlock() }
        guard count > 0 else {
            throw MediaError(path: path, kind: .invalidRequest, detail: "asked for \(count) frames")
        }
        let kept: [VideoFrame]
        switch rule {
        case .wholeFile:
            kept = try clipFrames(count: count)
        case let .dialogueWindow(start, end, margin):
            kept = try windowFrames(start: start, end: end, margin: margin, count: count)
        case let .range(start, end):
            kept = try rangeFrames(start: start, end: end, count: count)
        }
        return FrameSelection.padded(kept, to: count)
    }

    /// Every frame from the start of the file, numbered from 1 (for checks and tools; holds all
    /// frames in memory).
    public func allFrames(limit: Int = 10_000) throws(MediaError) -> [VideoFrame] {
        lock.lock()
        defer { lock.unlock() }
        let track = try openVideo(fresh: true)
        var frames: [VideoFrame] = []
        while frames.count < limit, track.grab() { frames.append(try track.retrieve()) }
        return frames
    }

    private func openVideo(fresh: Bool) throws(MediaError) -> VideoTrack {
        if let videoTrack, !fresh || !videoTrack.touched { return videoTrack }
        let track = try VideoTrack(path: path, threads: Int32(decoderThreads))
        videoTrack = track
        return track
    }

    private func noFrames(_ track: VideoTrack, _ what: String) -> MediaError {
        let reason = track.endError.map { ": \($0)" } ?? ""
        return MediaError(path: path, kind: .empty, detail: "no video frame \(what)\(reason)")
    }

    private func clipFrames(count: Int) throws(MediaError) -> [VideoFrame] {
        let track = try openVideo(fresh: true)
        let numbers = FrameSelection.clipNumbers(declaredCount: track.declaredFrameCount, count: count)
        var kept: [VideoFrame] = []
        var next = 0
        while next < numbers.count, track.grab() {
            if track.grabbed == numbers[next] {
                kept.append(try track.retrieve())
                next += 1
            }
        }
        if kept.isEmpty {
            throw noFrames(track, "at the selected positions (\(track.grabbed) decoded, declared \(track.declaredFrameCount), first kept would be \(numbers.first ?? 0))")
        }
        return kept
    }

    private func windowFrames(start: Double, end: Double, margin: Double, count: Int) throws(MediaError) -> [VideoFrame] {
        guard start.isFinite, end.isFinite, margin.isFinite, end >= start else {
            throw MediaError(path: path, kind: .invalidRequest, detail: "utterance time \(start) s - \(end) s is not a range")
        }
        var track = try openVideo(fresh: false)
        guard let window = FrameSelection.window(fps: track.fps, start: start, end: end, margin: margin, count: count) else {
            throw MediaError(path: path, kind: .invalidRequest,
                             detail: "no frame step for \(start) s - \(end) s at \(track.fps) fps (fewer than \(count) frames in the window)")
        }
        let first = window.firstNumber, last = window.lastNumber
        guard first <= last else { throw noFrames(track, "between \(start) s and \(end) s") }
        // Seek (to a keyframe at least a second before the window) unless the window starts near
        // the file start; the numbers after a seek come from timestamps, so check the landing.
        var sequential = true
        if track.fps > 0, Double(first) / track.fps > 3 {
            sequential = !track.seek(to: Double(first - 1) / track.fps - 1)
        }
        if sequential { track = try openVideo(fresh: true) }
        while true {
            var kept: [VideoFrame] = []
            var inWindow = 0
            var landedLate = false
            while kept.count < count, track.grab() {
                let n = track.currentNumber
                if n < first { continue }
                if n > last { break }
                inWindow += 1
                if inWindow == 1 && n != first && !sequential { landedLate = true; break }
                if inWindow % window.step == 0 { kept.append(try track.retrieve()) }
            }
            if landedLate {
                // The seek did not land before the window: decode from the start instead (exact).
                track = try openVideo(fresh: true)
                sequential = true
                continue
            }
            if kept.isEmpty { throw noFrames(track, "between \(start) s and \(end) s (window frames \(first)-\(last), step \(window.step))") }
            return kept
        }
    }

    private func rangeFrames(start: Double, end: Double, count: Int) throws(MediaError) -> [VideoFrame] {
        guard start.isFinite, end.isFinite, start >= 0, end > start else {
            throw MediaError(path: path, kind: .invalidRequest, detail: "utterance time \(start) s - \(end) s is not a range")
        }
        // Cue times are on the container's timeline (as players and `ffmpeg -ss` place them),
        // which a late-starting video stream does not share with its own start.
        func open(fresh: Bool) throws(MediaError) -> VideoTrack {
            let track = try openVideo(fresh: fresh)
            track.timeline = .container
            return track
        }
        var track = try open(fresh: false)
        defer { track.timeline = .stream }
        // Pass 1, demuxing only: how many frames the range holds (the L of a cut clip).
        let total: Int
        if start > 1, track.seek(to: start - 1) {
            total = track.countPackets(from: start, to: end)
        } else {
            track = try open(fresh: true)
            total = track.countPackets(from: start, to: end)
        }
        let numbers = FrameSelection.clipNumbers(declaredCount: total, count: count)
        // Pass 2: decode from the keyframe before the range.
        if !(start > 1 && track.seek(to: start - 1)) { track = try open(fresh: true) }
        var kept: [VideoFrame] = []
        var index = 0, next = 0
        while next < numbers.count, track.grab() {
            guard let time = track.currentTime else { continue }
            if time < start { continue }
            if time >= end { break }
            index += 1
            if index == numbers[next] {
                var frame = try track.retrieve()
                frame.number = index
                kept.append(frame)
                next += 1
            }
        }
        if kept.isEmpty { throw noFrames(track, "between \(start) s and \(end) s") }
        return kept
    }
}
