// Video decoding as OpenCV's FFmpeg backend (`cv2.VideoCapture`, cap_ffmpeg_impl.hpp) does it:
// the first video stream, one frame per `grab`, stopping after the declared frame count + 1, at
// the first packet the decoder refuses, or at the end; each frame converted to BGR24 by
// libswscale (`SWS_BICUBIC`, at the decoder's coded size, then the top-left stream-size region),
// then turned upright per the display matrix.
internal import CFFmpeg

/// One decoded frame, converted as OpenCV's `VideoCapture.read()` returns it.
public struct VideoFrame: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Packed 8-bit pixels, 3 per pixel, row-major, in OpenCV's order: blue, green, red.
    public var bgr: [UInt8]
    /// 1-based number in decoding order from the start of the file (for `FrameRule.range`,
    /// from the start of the range).
    public var number: Int
    /// Presentation time in seconds from the start of the stream, when the file gives one.
    public var time: Double?
    /// The file it came from (for error messages).
    public var source: String

    public init(width: Int, height: Int, bgr: [UInt8], number: Int, time: Double? = nil, source: String = "") {
        self.width = width
        self.height = height
        self.bgr = bgr
        self.number = number
        self.time = time
        self.source = source
    }
}

final class VideoTrack {
    let path: String
    /// OpenCV's `CAP_PROP_FPS`: `av_guess_frame_rate` (0 when unknown).
    let fps: Double
    /// OpenCV's `CAP_PROP_FRAME_COUNT`: the container's frame count, or
    /// `floor(duration * fps + 0.5)` when it has none (may be 0 or negative for broken files).
    let declaredFrameCount: Int
    /// 0, 90, 180 or 270: the clockwise rotation the display matrix asks for
    /// (`CAP_PROP_ORIENTATION_META`); not applied to the frames.
    let rotation: Int
    /// Size of the stream's pictures.
    let streamWidth: Int
    let streamHeight: Int

    private let format: FormatContext
    private let streamIndex: Int
    private let stream: UnsafeMutablePointer<AVStream>
    private let codec: CodecContext
    private let packet: Packet
    private let frame: Frame
    private let converted: Frame
    private let scaler = Scaler()
    private let declaredFrames: Int64
    /// The stream's own start: 0 s for OpenCV, hence for clip and IEMOCAP frame numbers.
    private let startPTS: Int64
    /// The container's start in stream units: 0 s on the timeline players and subtitles use.
    private let containerStartPTS: Int64
    private let timeBase: Double

    /// Where `currentTime`, `seek` and `countPackets` count seconds from.
    enum Timeline { case stream, container }
    var timeline = Timeline.stream
    private var origin: Int64 { timeline == .stream ? startPTS : containerStartPTS }

    /// Frames grabbed since the file was opened (OpenCV's `frame_number`); after a seek frames are
    /// numbered from their timestamps instead.
    private(set) var grabbed = 0
    private(set) var hasSeeked = false
    /// Whether anything was read since opening (a fresh track decodes exactly as OpenCV does).
    private(set) var touched = false
    private var finished = false
    private var flushSent = false
    /// Why decoding stopped before the end, if it did.
    private(set) var endError: String?

    init(path: String, threads: Int32 = 1) throws(MediaError) {
        self.path = path
        format = try FormatContext(path: path)
        var found: Int? = nil
        for i in 0..<format.streamCount where format.stream(i)?.pointee.codecpar?.pointee.codec_type == AVMEDIA_TYPE_VIDEO {
            found = i
            break
        }
        guard let index = found, let stream = format.stream(index), let parameters = stream.pointee.codecpar else {
            throw MediaError(path: path, kind: .noVideoStream, detail: "no video stream")
        }
        streamIndex = index
        self.stream = stream
        format.discardAll(except: index)
        codec = try CodecContext(stream: stream, path: path, threads: threads)
        packet = try Packet(path: path)
        frame = try Frame(path: path)
        converted = try Frame(path: path)

        streamWidth = Int(parameters.pointee.width)
        streamHeight = Int(parameters.pointee.height)
        let guessed = av_guess_frame_rate(format.pointer, stream, nil)
        fps = VideoTrack.ratio(guessed)
        timeBase = VideoTrack.ratio(stream.pointee.time_base)
        startPTS = stream.pointee.start_time == CFFmpeg_AV_NOPTS_VALUE() ? 0 : stream.pointee.start_time
        let containerStart = format.pointer.pointee.start_time
        containerStartPTS = containerStart == CFFmpeg_AV_NOPTS_VALUE() ? startPTS
            : av_rescale_q(containerStart, CFFmpeg_AV_TIME_BASE_Q(), stream.pointee.time_base)
        declaredFrames = stream.pointee.nb_frames
        if declaredFrames != 0 {
            declaredFrameCount = Int(clamping: declaredFrames)
        } else {
            var seconds = Double(format.pointer.pointee.duration) / Double(AV_TIME_BASE)
            if seconds < 0.000025 { seconds = Double(stream.pointee.duration) * timeBase }
            declaredFrameCount = MediaMath.clampedInt((seconds * fps + 0.5).rounded(.down))
        }
        let degrees = CFFmpeg_stream_display_rotation(stream)
        if degrees.isFinite {
            var angle = -MediaMath.clampedInt(degrees.rounded(.toNearestOrEven)) % 360
            if angle < 0 { angle += 360 }
            rotation = angle
        } else {
            rotation = 0
        }
    }

    /// `r2d`: num / den, or 0 when either is 0.
    static func ratio(_ r: AVRational) -> Double {
        r.num == 0 || r.den == 0 ? 0 : Double(r.num) / Double(r.den)
    }

    /// Seconds from the stream start of the decoded frame, or nil without a timestamp.
    var currentTime: Double? {
        let pts = frame.pointer.pointee.best_effort_timestamp
        guard pts != CFFmpeg_AV_NOPTS_VALUE() else { return nil }
        let (difference, overflow) = pts.subtractingReportingOverflow(origin)
        return overflow ? nil : Double(difference) * timeBase
    }

    /// The number OpenCV would give the decoded frame: its decoding index when read from the
    /// start; after a seek, `dts_to_frame_number(pts) + 1` (exact for constant-rate video).
    var currentNumber: Int {
        guard hasSeeked else { return grabbed }
        guard let time = currentTime else { return grabbed }
        return MediaMath.clampedInt((fps * time + 0.5).rounded(.down)) + 1
    }

    /// Seeks to the keyframe at or before `seconds` (`av_seek_frame` backward) and empties the
    /// decoder. Returns false when the container cannot seek.
    func seek(to seconds: Double) -> Bool {
        guard timeBase > 0, seconds.isFinite else { return false }
        touched = true
        let offset = MediaMath.clampedInt(max(seconds, 0) / timeBase)
        let (target, overflow) = origin.addingReportingOverflow(Int64(offset))
        guard !overflow else { return false }
        let result = av_seek_frame(format.pointer, Int32(streamIndex), target, AVSEEK_FLAG_BACKWARD)
        guard result >= 0 else { return false }
        avcodec_flush_buffers(codec.pointer)
        hasSeeked = true
        finished = false
        flushSent = false
        endError = nil
        return true
    }

    /// OpenCV's `grabFrame`: decodes the next frame. Returns false at the end of the video.
    func grab() -> Bool {
        touched = true
        if finished { return false }
        if !hasSeeked && declaredFrames > 0 && Int64(grabbed) > declaredFrames { return false }
        let context = codec.pointer
        av_frame_unref(frame.pointer)
        var valid = avcodec_receive_frame(context, frame.pointer) >= 0
        var decodeAttempts = 0
        while !valid {
            av_packet_unref(packet.pointer)
            let read = av_read_frame(format.pointer, packet.pointer)
            if read == CFFmpeg_AVERROR_EAGAIN() { continue }
            if read < 0 {
                // End of file (or a read error, which OpenCV treats alike): drain the decoder.
                if read != CFFmpeg_AVERROR_EOF() { endError = endError ?? "\(ffmpegMessage(read)) (av_read_frame)" }
                if flushSent || avcodec_send_packet(context, nil) < 0 { break }
                flushSent = true
            } else {
                if Int(packet.pointer.pointee.stream_index) != streamIndex { continue }
                let sent = avcodec_send_packet(context, packet.pointer)
                if sent < 0 {
                    endError = endError ?? "\(ffmpegMessage(sent)) (avcodec_send_packet)"
                    break
                }
            }
            let received = avcodec_receive_frame(context, frame.pointer)
            if received >= 0 {
                valid = true
            } else if received == CFFmpeg_AVERROR_EAGAIN() {
                continue
            } else {
                if received != CFFmpeg_AVERROR_EOF() {
                    endError = endError ?? "\(ffmpegMessage(received)) (avcodec_receive_frame)"
                }
                decodeAttempts += 1
                if decodeAttempts > 64 || flushSent { break }
            }
        }
        av_packet_unref(packet.pointer)
        guard valid else {
            finished = true
            return false
        }
        grabbed += 1
        return true
    }

    /// Demuxes (without decoding) from the current position and counts the stream's packets
    /// presented in `[start, end)` seconds, stopping two seconds of decoding order past `end`.
    func countPackets(from start: Double, to end: Double) -> Int {
        touched = true
        var count = 0
        let none = CFFmpeg_AV_NOPTS_VALUE()
        while true {
            av_packet_unref(packet.pointer)
            let read = av_read_frame(format.pointer, packet.pointer)
            if read == CFFmpeg_AVERROR_EAGAIN() { continue }
            if read < 0 { break }
            let p = packet.pointer.pointee
            guard Int(p.stream_index) == streamIndex, (p.flags & AV_PKT_FLAG_DISCARD) == 0 else { continue }
            let presented = p.pts != none ? p.pts : p.dts
            guard presented != none else { continue }
            let (offset, overflow) = presented.subtractingReportingOverflow(origin)
            guard !overflow else { continue }
            let time = Double(offset) * timeBase
            if time >= start && time < end { count += 1 }
            let decoded = p.dts != none ? p.dts : presented
            let (decodeOffset, decodeOverflow) = decoded.subtractingReportingOverflow(origin)
            if !decodeOverflow && Double(decodeOffset) * timeBase > end + 2 { break }
        }
        av_packet_unref(packet.pointer)
        return count
    }

    /// OpenCV's `retrieveFrame` for the last grabbed frame.
    func retrieve() throws(MediaError) -> VideoFrame {
        let source = frame.pointer
        guard source.pointee.data.0 != nil, source.pointee.width > 0, source.pointee.height > 0 else {
            throw MediaError(path: path, kind: .decode, detail: "decoded frame \(currentNumber) has no picture")
        }
        let pixelFormat = AVPixelFormat(rawValue: source.pointee.format)
        let (bufferWidth, bufferHeight) = bufferSize(of: source, pixelFormat: pixelFormat)
        guard let context = scaler.context(width: bufferWidth, height: bufferHeight, from: pixelFormat,
                                           to: AV_PIX_FMT_BGR24, flags: SWS_BICUBIC) else {
            let name = av_get_pix_fmt_name(pixelFormat).map { String(cString: $0) } ?? "format \(pixelFormat.rawValue)"
            throw MediaError(path: path, kind: .convert, detail: "cannot convert \(name) to BGR24 (sws_getCachedContext)")
        }
        let target = try bgrFrame(width: bufferWidth, height: bufferHeight)
        let scaled = withUnsafePointer(to: &source.pointee.data) { sourcePlanes in
            withUnsafePointer(to: &source.pointee.linesize) { sourceStrides in
                withUnsafePointer(to: &target.pointee.data) { targetPlanes in
                    withUnsafePointer(to: &target.pointee.linesize) { targetStrides in
                        sws_scale(context,
                                  UnsafeRawPointer(sourcePlanes).assumingMemoryBound(to: UnsafePointer<UInt8>?.self),
                                  UnsafeRawPointer(sourceStrides).assumingMemoryBound(to: Int32.self),
                                  0, source.pointee.height,
                                  UnsafeRawPointer(targetPlanes).assumingMemoryBound(to: UnsafeMutablePointer<UInt8>?.self),
                                  UnsafeRawPointer(targetStrides).assumingMemoryBound(to: Int32.self))
                    }
                }
            }
        }
        guard scaled > 0, let base = target.pointee.data.0 else {
            throw MediaError(path: path, kind: .convert,
                             detail: "BGR conversion of frame \(currentNumber) failed: \(ffmpegMessage(scaled)) (sws_scale)")
        }
        let width = Int(min(streamWidth > 0 ? Int32(clamping: streamWidth) : source.pointee.width, bufferWidth))
        let height = Int(min(streamHeight > 0 ? Int32(clamping: streamHeight) : source.pointee.height, source.pointee.height))
        let stride = Int(target.pointee.linesize.0)
        var bgr = [UInt8](repeating: 0, count: width * height * 3)
        bgr.withUnsafeMutableBufferPointer { out in
            guard let destination = out.baseAddress else { return }
            for y in 0..<height {
                (destination + y * width * 3).update(from: base + y * stride, count: width * 3)
            }
        }
        return VideoFrame(width: width, height: height, bgr: bgr, number: currentNumber,
                          time: currentTime, source: path)
    }

    /// The size to convert at: OpenCV converts at the decoder's coded size (the frame buffers
    /// are allocated for it), then exposes the stream-size region. The frame size when the coded
    /// size cannot be read from this frame's buffers.
    private func bufferSize(of source: UnsafeMutablePointer<AVFrame>, pixelFormat: AVPixelFormat) -> (Int32, Int32) {
        let codedWidth = codec.pointer.pointee.coded_width
        let codedHeight = codec.pointer.pointee.coded_height
        let lineNeeded = av_image_get_linesize(pixelFormat, codedWidth, 0)
        if codedWidth < source.pointee.width || codedHeight < source.pointee.height
            || lineNeeded < 0 || lineNeeded > source.pointee.linesize.0 {
            return (source.pointee.width, source.pointee.height)
        }
        return (codedWidth, codedHeight)
    }

    /// The BGR24 frame to convert into, (re)allocated when its size changes.
    private func bgrFrame(width: Int32, height: Int32) throws(MediaError) -> UnsafeMutablePointer<AVFrame> {
        let target = converted.pointer
        if target.pointee.width != width || target.pointee.height != height || target.pointee.data.0 == nil {
            av_frame_unref(target)
            target.pointee.format = AV_PIX_FMT_BGR24.rawValue
            target.pointee.width = width
            target.pointee.height = height
            let allocated = av_frame_get_buffer(target, 32)
            guard allocated >= 0 else {
                throw MediaError(path: path, kind: .convert,
                                 detail: "cannot allocate a \(width)x\(height) BGR frame: \(ffmpegMessage(allocated)) (av_frame_get_buffer)")
            }
        }
        return target
    }
}
