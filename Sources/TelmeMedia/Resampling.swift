internal import CFFmpeg

/// `librosa.resample(y, orig_sr:, target_sr:, res_type: "soxr_hq")` on mono float32 audio.
///
/// librosa calls python-soxr, i.e. libsoxr with `soxr_quality_spec(SOXR_HQ, 0)` on float32
/// samples. libswresample's soxr engine with its default `precision=20` and `cheby=0` asks libsoxr
/// for the same recipe (`(20 - 2) / 4 = SOXR_HQ`, linear phase, default pass band), so the filter
/// is the same; the output is then cut or zero-padded to `ceil(n * target / orig)` samples
/// (`librosa.util.fix_length`), computed in double as librosa does.
enum SoxrResampling {
    /// Whether this FFmpeg build has the soxr engine (checked once).
    static let isAvailable: Bool = {
        var mono = AVChannelLayout()
        av_channel_layout_default(&mono, 1)
        defer { av_channel_layout_uninit(&mono) }
        return (try? Resampler(path: "", layout: &mono, inFormat: AV_SAMPLE_FMT_FLT, inRate: 48_000,
                               outFormat: AV_SAMPLE_FMT_FLT, outRate: 22_050,
                               options: [("resampler", "soxr")])) != nil
    }()

    /// The resampling engines of libswresample.
    enum Engine: Sendable {
        /// libsoxr, HQ recipe: what librosa uses.
        case soxr
        /// swr's own polyphase filter, configured for quality: the fallback for FFmpeg builds
        /// without libsoxr (long Kaiser-windowed sinc, double-precision internal format). Against
        /// librosa it differs by up to 1.3e-3 (full scale 1) on the fixture clips: 1.3e-5 inside
        /// a 48 -> 22.05 kHz clip, more at its first samples and when upsampling 16 kHz speech.
        case swr
    }

    /// The engine used by default: soxr when this FFmpeg has it.
    static var defaultEngine: Engine { isAvailable ? .soxr : .swr }

    static func options(for engine: Engine) -> [(String, String)] {
        switch engine {
        case .soxr:
            [("resampler", "soxr"), ("precision", "20"), ("cheby", "0")]
        case .swr:
            [("resampler", "swr"), ("filter_size", "64"), ("phase_shift", "12"), ("filter_type", "kaiser"),
             ("kaiser_beta", "12"), ("internal_sample_fmt", "dblp")]
        }
    }

    /// Length librosa gives the output: `int(np.ceil(n * (float(target) / orig)))`.
    static func outputLength(inputCount: Int, from inRate: Int, to outRate: Int) -> Int {
        let ratio = Double(outRate) / Double(inRate)
        return MediaMath.clampedInt((Double(inputCount) * ratio).rounded(.up))
    }

    static func resample(_ input: [Float], from inRate: Int, to outRate: Int, path: String,
                         engine: Engine = defaultEngine) throws(MediaError) -> [Float] {
        try resample(input, from: inRate, to: outRate, path: path, options: options(for: engine))
    }

    /// Resampling with explicit libswresample options (`av_opt_set` names).
    static func resample(_ input: [Float], from inRate: Int, to outRate: Int, path: String,
                         options: [(String, String)]) throws(MediaError) -> [Float] {
        guard inRate > 0, outRate > 0, inRate <= Int(Int32.max), outRate <= Int(Int32.max) else {
            throw MediaError(path: path, kind: .invalidRequest,
                             detail: "cannot resample from \(inRate) Hz to \(outRate) Hz")
        }
        if inRate == outRate || input.isEmpty { return input }
        let target = outputLength(inputCount: input.count, from: inRate, to: outRate)
        var mono = AVChannelLayout()
        av_channel_layout_default(&mono, 1)
        defer { av_channel_layout_uninit(&mono) }
        let resampler = try Resampler(path: path, layout: &mono, inFormat: AV_SAMPLE_FMT_FLT, inRate: Int32(inRate),
                                      outFormat: AV_SAMPLE_FMT_FLT, outRate: Int32(outRate),
                                      options: options)
        var output = [Float]()
        output.reserveCapacity(target + 64)
        let chunk = 1 << 16
        var scratch = [Float](repeating: 0, count: 4096)
        var offset = 0
        // Feed in chunks, then flush (nil input) until nothing more comes out.
        while true {
            let feeding = offset < input.count
            let inCount = feeding ? min(chunk, input.count - offset) : 0
            let capacity = Int(swr_get_out_samples(resampler.pointer, Int32(inCount))) + 64
            if scratch.count < capacity { scratch = [Float](repeating: 0, count: capacity) }
            let produced: Int32 = scratch.withUnsafeMutableBytes { out in
                var outPlanes: [UnsafeMutablePointer<UInt8>?] = [out.baseAddress?.assumingMemoryBound(to: UInt8.self)]
                if feeding {
                    return input.withUnsafeBytes { raw in
                        var inPlanes: [UnsafePointer<UInt8>?] = [raw.baseAddress.map {
                            ($0 + offset * MemoryLayout<Float>.stride).assumingMemoryBound(to: UInt8.self)
                        }]
                        return swr_convert(resampler.pointer, &outPlanes, Int32(capacity), &inPlanes, Int32(inCount))
                    }
                }
                return swr_convert(resampler.pointer, &outPlanes, Int32(capacity), nil, 0)
            }
            guard produced >= 0 else {
                throw MediaError(path: path, kind: .resample,
                                 detail: "resampling \(inRate) Hz -> \(outRate) Hz failed: \(ffmpegMessage(produced)) (swr_convert)")
            }
            output.append(contentsOf: scratch[0..<Int(produced)])
            if feeding { offset += inCount } else if produced == 0 { break }
        }
        if output.count > target {
            output.removeLast(output.count - target)
        } else if output.count < target {
            output.append(contentsOf: repeatElement(0, count: target - output.count))
        }
        return output
    }
}

/// Conversions that must not trap on absurd values read from files.
enum MediaMath {
    /// `Int(x)` (truncating), with NaN as 0 and infinities or huge values clamped to +-2^62.
    static func clampedInt(_ x: Double) -> Int {
        guard x.isFinite else { return x.isNaN ? 0 : (x > 0 ? 1 << 62 : -(1 << 62)) }
        if x >= 4.6e18 { return 1 << 62 }
        if x <= -4.6e18 { return -(1 << 62) }
        return Int(x)
    }
}
