// Owners of FFmpeg handles: each final class frees its handle in deinit, so a thrown error
// anywhere in a decode loop never leaks. Nothing here is public; C types stay in this module.
internal import CFFmpeg
import TelmeFiles

/// FFmpeg's text for an error code (the corresponding C function is `av_strerror`).
func ffmpegMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 { return "FFmpeg error \(code)" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// FFmpeg logs to stderr by default; a batch annotator reports errors itself, one line per file.
let silenceFFmpegLogging: Void = { av_log_set_level(AV_LOG_QUIET) }()

/// An opened, probed container (`avformat_open_input` + `avformat_find_stream_info`;
/// freed with `avformat_close_input`).
final class FormatContext {
    let pointer: UnsafeMutablePointer<AVFormatContext>
    let path: String

    init(path: String) throws(MediaError) {
        _ = silenceFFmpegLogging
        self.path = path
        // Before FFmpeg opens it: a FIFO would block the open, a device never ends.
        if let problem = RegularFile.problem(path) {
            throw MediaError(path: path, kind: .open, detail: problem)
        }
        var context: UnsafeMutablePointer<AVFormatContext>? = nil
        let opened = avformat_open_input(&context, path, nil, nil)
        guard opened >= 0, let context else {
            throw MediaError(path: path, kind: .open,
                             detail: "cannot open: \(ffmpegMessage(opened)) (avformat_open_input)")
        }
        pointer = context
        let probed = avformat_find_stream_info(context, nil)
        if probed < 0 {
            var doomed: UnsafeMutablePointer<AVFormatContext>? = context
            avformat_close_input(&doomed)
            throw MediaError(path: path, kind: .open,
                             detail: "cannot read stream parameters: \(ffmpegMessage(probed)) (avformat_find_stream_info)")
        }
    }

    deinit {
        var doomed: UnsafeMutablePointer<AVFormatContext>? = pointer
        avformat_close_input(&doomed)
    }

    var streamCount: Int { Int(pointer.pointee.nb_streams) }

    func stream(_ index: Int) -> UnsafeMutablePointer<AVStream>? {
        guard index >= 0, index < streamCount, let streams = pointer.pointee.streams else { return nil }
        return streams[index]
    }

    /// The demuxer's short name (`mov,mp4,m4a,3gp,3g2,mj2`, `wav`, ...).
    var formatName: String {
        guard let name = pointer.pointee.iformat?.pointee.name else { return "" }
        return String(cString: name)
    }

    /// Demux only `index`: the other streams' packets are dropped inside libavformat.
    func discardAll(except index: Int) {
        for i in 0..<streamCount where i != index {
            stream(i)?.pointee.discard = AVDISCARD_ALL
        }
    }
}

/// An opened decoder for one stream (`avcodec_alloc_context3` + `avcodec_parameters_to_context`
/// + `avcodec_open2`; freed with `avcodec_free_context`).
final class CodecContext {
    let pointer: UnsafeMutablePointer<AVCodecContext>

    init(stream: UnsafeMutablePointer<AVStream>, path: String, threads: Int32) throws(MediaError) {
        guard let parameters = stream.pointee.codecpar else {
            throw MediaError(path: path, kind: .decoder, detail: "stream \(stream.pointee.index) has no codec parameters")
        }
        let codecID = parameters.pointee.codec_id
        guard let codec = avcodec_find_decoder(codecID) else {
            let name = avcodec_get_name(codecID).map { String(cString: $0) } ?? "unknown"
            throw MediaError(path: path, kind: .decoder,
                             detail: "no decoder for codec \(name) in stream \(stream.pointee.index) (avcodec_find_decoder)")
        }
        guard let context = avcodec_alloc_context3(codec) else {
            throw MediaError(path: path, kind: .decoder, detail: "out of memory (avcodec_alloc_context3)")
        }
        pointer = context
        let copied = avcodec_parameters_to_context(context, parameters)
        guard copied >= 0 else {
            throw MediaError(path: path, kind: .decoder,
                             detail: "bad codec parameters: \(ffmpegMessage(copied)) (avcodec_parameters_to_context)")
        }
        context.pointee.pkt_timebase = stream.pointee.time_base
        context.pointee.thread_count = threads
        let opened = avcodec_open2(context, codec, nil)
        guard opened >= 0 else {
            throw MediaError(path: path, kind: .decoder,
                             detail: "cannot open decoder \(String(cString: codec.pointee.name)): \(ffmpegMessage(opened)) (avcodec_open2)")
        }
    }

    deinit {
        var doomed: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&doomed)
    }
}

/// An FFmpeg struct that a pair of functions allocates and frees (`av_packet_alloc` and
/// `av_packet_free`, `av_frame_alloc` and `av_frame_free`), so that one owner class serves them all.
protocol FFmpegAllocated {
    static func allocate() -> UnsafeMutablePointer<Self>?
    static func free(_ pointer: inout UnsafeMutablePointer<Self>?)
    /// The allocating function, named in the out-of-memory message.
    static var allocator: String { get }
}

extension AVPacket: FFmpegAllocated {
    static func allocate() -> UnsafeMutablePointer<AVPacket>? { av_packet_alloc() }
    static func free(_ pointer: inout UnsafeMutablePointer<AVPacket>?) { av_packet_free(&pointer) }
    static var allocator: String { "av_packet_alloc" }
}

extension AVFrame: FFmpegAllocated {
    static func allocate() -> UnsafeMutablePointer<AVFrame>? { av_frame_alloc() }
    static func free(_ pointer: inout UnsafeMutablePointer<AVFrame>?) { av_frame_free(&pointer) }
    static var allocator: String { "av_frame_alloc" }
}

/// One FFmpeg struct, freed in deinit: `Packet` and `Frame`, each reused for every read or decoded frame.
final class Owned<Pointee: FFmpegAllocated> {
    let pointer: UnsafeMutablePointer<Pointee>

    init(path: String) throws(MediaError) {
        guard let allocated = Pointee.allocate() else {
            throw MediaError(path: path, kind: .decode, detail: "out of memory (\(Pointee.allocator))")
        }
        pointer = allocated
    }

    deinit {
        var doomed: UnsafeMutablePointer<Pointee>? = pointer
        Pointee.free(&doomed)
    }
}

/// One `AVPacket` reused for every read.
typealias Packet = Owned<AVPacket>

/// One `AVFrame` reused for every decoded frame.
typealias Frame = Owned<AVFrame>

/// A libswresample context (`swr_alloc_set_opts2` + `swr_init`; freed with `swr_free`).
final class Resampler {
    let pointer: OpaquePointer

    /// A converter that keeps the channels as they are (`layout` in and out) and changes the
    /// sample format and/or rate. `options` are set with `av_opt_set` before `swr_init`
    /// (e.g. `resampler=soxr`).
    init(path: String, layout: UnsafeMutablePointer<AVChannelLayout>,
         inFormat: AVSampleFormat, inRate: Int32, outFormat: AVSampleFormat, outRate: Int32,
         options: [(String, String)] = []) throws(MediaError) {
        var context: OpaquePointer? = nil
        let allocated = swr_alloc_set_opts2(&context, layout, outFormat, outRate,
                                            layout, inFormat, inRate, 0, nil)
        guard allocated >= 0, let context else {
            throw MediaError(path: path, kind: .resample,
                             detail: "cannot configure the resampler: \(ffmpegMessage(allocated)) (swr_alloc_set_opts2)")
        }
        pointer = context
        for (key, value) in options {
            let set = av_opt_set(UnsafeMutableRawPointer(context), key, value, 0)
            guard set >= 0 else {
                throw MediaError(path: path, kind: .resample,
                                 detail: "resampler option \(key)=\(value) refused: \(ffmpegMessage(set)) (av_opt_set)")
            }
        }
        let initialised = swr_init(context)
        guard initialised >= 0 else {
            throw MediaError(path: path, kind: .resample,
                             detail: "cannot initialise the resampler: \(ffmpegMessage(initialised)) (swr_init)")
        }
    }

    deinit {
        var doomed: OpaquePointer? = pointer
        swr_free(&doomed)
    }
}

/// A libswscale context (`sws_getCachedContext`; freed with `sws_freeContext`).
final class Scaler {
    private(set) var pointer: OpaquePointer? = nil

    deinit { sws_freeContext(pointer) }

    /// The context for these parameters, reusing the previous one when they have not changed.
    func context(width: Int32, height: Int32, from source: AVPixelFormat,
                 to destination: AVPixelFormat, flags: Int32) -> OpaquePointer? {
        pointer = sws_getCachedContext(pointer, width, height, source, width, height, destination, flags, nil, nil, nil)
        return pointer
    }
}
