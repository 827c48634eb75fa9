// Audio decoding as the authors' `librosa.load(path)` reads a file, at the file's own rate.
//
// librosa tries libsndfile first; for containers it cannot read (mp4, mkv, avi, ...) it falls
// back to audioread, which runs `ffmpeg -i FILE -f s16le -`: the decoded audio is converted to
// interleaved 16-bit PCM by libswresample (no dither: round to nearest, saturate) and read back as
// int16 / 32768. Channels are then averaged in float32 (`np.mean(y, axis=0)`). For the formats
// libsndfile reads there is no 16-bit step: samples keep their full precision.
internal import CFFmpeg

final class AudioTrack {
    let path: String
    /// Samples per second per channel of the decoded audio.
    let sampleRate: Int
    let channels: Int
    /// true when librosa would read this file through the ffmpeg CLI as 16-bit PCM.
    let quantizesTo16Bit: Bool

    private let format: FormatContext
    private let streamIndex: Int
    private let codec: CodecContext
    private let packet: Packet
    private let frame: Frame
    private var converter: Resampler?
    private var converterKey: ConverterKey?
    private var converted: [UInt8] = []

    /// Decoded mono samples; `buffer[0]` is sample `bufferStart` of the stream (0 = first decoded sample).
    private var buffer: [Float] = []
    private(set) var bufferStart = 0
    private(set) var finished = false
    private var flushing = false
    /// The read or decode error that ended the stream early, if any.
    private(set) var endError: String?

    var decodedEnd: Int { bufferStart + buffer.count }

    /// Demuxers whose files libsndfile (librosa's first choice) reads itself, at full precision.
    static let soundfileFormats: Set<String> = ["wav", "w64", "aiff", "flac", "ogg", "mp3", "caf", "au", "voc", "rf64"]

    init(path: String) throws(MediaError) {
        self.path = path
        format = try FormatContext(path: path)
        guard let index = AudioTrack.bestStream(format) else {
            throw MediaError(path: path, kind: .noAudioStream, detail: "no audio stream")
        }
        streamIndex = index
        format.discardAll(except: index)
        guard let stream = format.stream(index) else {
            throw MediaError(path: path, kind: .noAudioStream, detail: "no audio stream")
        }
        codec = try CodecContext(stream: stream, path: path, threads: 1)
        packet = try Packet(path: path)
        frame = try Frame(path: path)
        let rate = Int(codec.pointer.pointee.sample_rate)
        let count = Int(codec.pointer.pointee.ch_layout.nb_channels)
        guard rate > 0, count > 0 else {
            throw MediaError(path: path, kind: .decoder,
                             detail: "audio stream \(index) has \(count) channels at \(rate) Hz")
        }
        sampleRate = rate
        channels = count
        let demuxers = format.formatName.split(separator: ",").map(String.init)
        quantizesTo16Bit = !demuxers.contains { AudioTrack.soundfileFormats.contains($0) }
    }

    /// The stream the ffmpeg CLI maps by default: default disposition first, then most channels,
    /// then the first.
    static func bestStream(_ format: FormatContext) -> Int? {
        var best: (index: Int, score: Int)? = nil
        for i in 0..<format.streamCount {
            guard let stream = format.stream(i), let parameters = stream.pointee.codecpar,
                  parameters.pointee.codec_type == AVMEDIA_TYPE_AUDIO else { continue }
            let isDefault = (stream.pointee.disposition & AV_DISPOSITION_DEFAULT) != 0
            let score = Int(parameters.pointee.ch_layout.nb_channels) + (isDefault ? 5_000_000 : 0)
            if best == nil || score > best!.score { best = (i, score) }
        }
        return best?.index
    }

    /// Mono samples `start ..< start + count` (to the end when `count` is nil), decoding forward as
    /// far as needed. Samples before `start - keep` are released. A request before what is still
    /// buffered returns nil: the caller reopens the file (decoding restarts at sample 0, exactly).
    func samples(from start: Int, count: Int?, keep: Int) throws(MediaError) -> [Float]? {
        guard start >= bufferStart else { return nil }
        // Saturating: absurd times from a transcript must not trap.
        let end = count.map { start.addingReportingOverflow(max($0, 0)).overflow ? Int.max : start + max($0, 0) }
        let keepFrom = start.subtractingReportingOverflow(max(keep, 0)).overflow ? 0 : start - max(keep, 0)
        while !finished && (end.map { decodedEnd < $0 } ?? true) {
            try decodeSome()
            // Samples before `keepFrom` are never returned: release them while streaming towards
            // a late start, so memory stays bounded however far into a long file it lies.
            if buffer.count >= 1 << 20, decodedEnd <= keepFrom {
                bufferStart += buffer.count
                buffer.removeAll(keepingCapacity: true)
            }
        }
        if decodedEnd == 0, let endError {
            throw MediaError(path: path, kind: .decode, detail: "no audio decoded: \(endError)")
        }
        let from = min(start, decodedEnd) - bufferStart
        let to = (end.map { min($0, decodedEnd) } ?? decodedEnd) - bufferStart
        let result = Array(buffer[from..<max(from, to)])
        let drop = min(max(0, keepFrom - bufferStart), buffer.count)
        if drop > 0 {
            buffer.removeFirst(drop)
            bufferStart += drop
        }
        return result
    }

    /// Reads packets until at least one frame was decoded or the stream ended.
    private func decodeSome() throws(MediaError) {
        let context = codec.pointer
        while !finished {
            // Frames the decoder already holds come first.
            let received = avcodec_receive_frame(context, frame.pointer)
            if received >= 0 {
                try append(frame.pointer)
                av_frame_unref(frame.pointer)
                return
            }
            if received == CFFmpeg_AVERROR_EOF() { finished = true; return }
            if received != CFFmpeg_AVERROR_EAGAIN() {
                // Like the CLI: a broken frame is skipped, decoding goes on.
                endError = endError ?? "\(ffmpegMessage(received)) (avcodec_receive_frame)"
            }
            if flushing { finished = true; return }
            let read = av_read_frame(format.pointer, packet.pointer)
            if read < 0 {
                if read != CFFmpeg_AVERROR_EOF() {
                    endError = endError ?? "\(ffmpegMessage(read)) (av_read_frame)"
                }
                flushing = true
                _ = avcodec_send_packet(context, nil)
                continue
            }
            defer { av_packet_unref(packet.pointer) }
            guard Int(packet.pointer.pointee.stream_index) == streamIndex else { continue }
            let sent = avcodec_send_packet(context, packet.pointer)
            if sent < 0 && sent != CFFmpeg_AVERROR_EAGAIN() {
                endError = endError ?? "\(ffmpegMessage(sent)) (avcodec_send_packet)"
            }
        }
    }

    private struct ConverterKey: Equatable {
        var channels: Int32
        var order: UInt32
        var mask: UInt64
        var format: Int32
        var rate: Int32
    }

    /// Converts one decoded frame to interleaved s16 (CLI path) or float (libsndfile path) with
    /// libswresample, then averages the channels into the buffer.
    private func append(_ decoded: UnsafeMutablePointer<AVFrame>) throws(MediaError) {
        let count = Int(decoded.pointee.nb_samples)
        let frameChannels = Int(decoded.pointee.ch_layout.nb_channels)
        guard count > 0, frameChannels > 0 else { return }
        guard let converter = try converter(for: decoded) else { return }
        let bytesPerSample = quantizesTo16Bit ? 2 : 4
        let needed = count * frameChannels * bytesPerSample
        if converted.count < needed { converted = [UInt8](repeating: 0, count: needed) }
        let produced: Int32 = converted.withUnsafeMutableBufferPointer { output in
            var outPlanes: [UnsafeMutablePointer<UInt8>?] = [output.baseAddress]
            return decoded.pointee.extended_data.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: 1) { input in
                swr_convert(converter.pointer, &outPlanes, Int32(count), input, Int32(count))
            }
        }
        guard produced >= 0 else {
            throw MediaError(path: path, kind: .resample,
                             detail: "sample conversion failed: \(ffmpegMessage(produced)) (swr_convert)")
        }
        appendMono(frames: Int(produced), channels: frameChannels)
    }

    /// The converter for the frame's layout, format and rate: the last one while they stay the same.
    private func converter(for decoded: UnsafeMutablePointer<AVFrame>) throws(MediaError) -> Resampler? {
        let key = ConverterKey(channels: decoded.pointee.ch_layout.nb_channels,
                               order: decoded.pointee.ch_layout.order.rawValue,
                               mask: decoded.pointee.ch_layout.order == AV_CHANNEL_ORDER_NATIVE
                                   ? decoded.pointee.ch_layout.u.mask : 0,
                               format: decoded.pointee.format, rate: decoded.pointee.sample_rate)
        if converter == nil || key != converterKey {
            var layout = AVChannelLayout()
            // A layout without channel order (e.g. some wav files) is given its default order: the
            // conversion keeps every channel as it is either way.
            if decoded.pointee.ch_layout.order == AV_CHANNEL_ORDER_NATIVE {
                let copied = av_channel_layout_copy(&layout, &decoded.pointee.ch_layout)
                guard copied >= 0 else {
                    throw MediaError(path: path, kind: .resample,
                                     detail: "cannot copy the channel layout: \(ffmpegMessage(copied)) (av_channel_layout_copy)")
                }
            } else {
                av_channel_layout_default(&layout, decoded.pointee.ch_layout.nb_channels)
            }
            defer { av_channel_layout_uninit(&layout) }
            let target = quantizesTo16Bit ? AV_SAMPLE_FMT_S16 : AV_SAMPLE_FMT_FLT
            converter = try Resampler(path: path, layout: &layout,
                                      inFormat: AVSampleFormat(rawValue: decoded.pointee.format),
                                      inRate: decoded.pointee.sample_rate,
                                      outFormat: target, outRate: decoded.pointee.sample_rate)
            converterKey = key
        }
        return converter
    }

    /// Appends the mean over channels of the first `frames` converted samples to the buffer.
    private func appendMono(frames: Int, channels frameChannels: Int) {
        let scale = Float(frameChannels)
        buffer.reserveCapacity(buffer.count + frames)
        converted.withUnsafeBytes { raw in
            if quantizesTo16Bit {
                let samples = raw.bindMemory(to: Int16.self)
                for i in 0..<frames {
                    // int16 / 32768 is exact in float32, and so is a sum of up to 256 of them.
                    var sum = Float(samples[i * frameChannels]) * (1 / 32768)
                    for c in 1..<max(frameChannels, 1) { sum += Float(samples[i * frameChannels + c]) * (1 / 32768) }
                    buffer.append(frameChannels == 1 ? sum : sum / scale)
                }
            } else {
                let samples = raw.bindMemory(to: Float.self)
                for i in 0..<frames {
                    var sum = samples[i * frameChannels]
                    for c in 1..<max(frameChannels, 1) { sum += samples[i * frameChannels + c] }
                    buffer.append(frameChannels == 1 ? sum : sum / scale)
                }
            }
        }
    }
}
