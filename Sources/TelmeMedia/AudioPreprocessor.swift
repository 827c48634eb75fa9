import TelmeModels

/// Mono audio at the model's rate -> the audio student's input, as the authors prepare it.
///
/// The authors call the data2vec-audio feature extractor (`Wav2Vec2FeatureExtractor`,
/// `do_normalize=True`) on the whole clip, then keep its last `maxAudioSamples` samples. The
/// normalisation is numpy's float32 arithmetic, reproduced here operation for operation (see
/// `normalize`), so the same input gives the same bits.
public struct AudioPreprocessor: Sendable {
    /// Rate the audio must be resampled to before this (22050 Hz in the authors' pipeline).
    public var sampleRate: Int
    public var maxSamples: Int
    /// MELD: clips lasting longer than this get `zeroSamples` zeros (and a zero video).
    public var zeroOverSeconds: Double?
    public var zeroSamples: Int

    public init(settings: Settings) {
        sampleRate = settings.sampleRate
        maxSamples = settings.maxAudioSamples
        zeroOverSeconds = settings.zeroMediaOverSeconds
        zeroSamples = settings.zeroAudioSamples
    }

    /// The model input for `audio` (mono, already at `sampleRate`): normalised over the whole clip,
    /// then its last `maxSamples` samples.
    public func callAsFunction(_ audio: [Float]) -> [Float] {
        let normalised = AudioPreprocessor.normalize(audio)
        return normalised.count > maxSamples ? Array(normalised.suffix(maxSamples)) : normalised
    }

    /// The authors' over-duration rule: `librosa.get_duration(y, sr) > limit`, i.e. the length of
    /// the resampled audio in seconds. Always false when the setting is off.
    public func exceedsDurationLimit(sampleCount: Int) -> Bool {
        guard let limit = zeroOverSeconds else { return false }
        return Double(sampleCount) / Double(sampleRate) > limit
    }

    /// The zero audio the authors substitute for clips over the limit.
    public func zeros() -> [Float] { [Float](repeating: 0, count: zeroSamples) }

    /// `(x - x.mean()) / np.sqrt(x.var() + 1e-7)` exactly as numpy 1.26 computes it on float32:
    /// sums are numpy's (pairwise within blocks of 8192, blocks added in order); `mean` is
    /// `float32(sum / n)` in double; `var` subtracts the float32 mean `sum / n` (float32 division),
    /// squares and sums in float32, then `float32(sumsq / n)`; the divisor is
    /// `float32(sqrt(double(var) + 1e-7))`.
    public static func normalize(_ x: [Float]) -> [Float] {
        let n = x.count
        guard n > 0 else { return [] }
        let sum = numpySum(x)
        let mean = Float(Double(sum) / Double(n))
        let varianceMean = sum / Float(n)
        var squares = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let d = x[i] - varianceMean
            squares[i] = d * d
        }
        let variance = Float(Double(numpySum(squares)) / Double(n))
        let divisor = Float((Double(variance) + 1e-7).squareRoot())
        return x.map { ($0 - mean) / divisor }
    }

    /// `np.add.reduce` of a contiguous float32 array: numpy's pairwise summation over each block
    /// of its 8192-element iteration buffer, the block sums accumulated in order from 0.
    static func numpySum(_ x: [Float]) -> Float {
        x.withUnsafeBufferPointer { buffer in
            guard let base = buffer.baseAddress else { return 0 }
            var total: Float = 0
            var start = 0
            while start < buffer.count {
                let count = min(8192, buffer.count - start)
                total += pairwiseSum(base + start, count)
                start += count
            }
            return total
        }
    }

    /// numpy's `FLOAT_pairwise_sum` (`loops_utils.h.src`): 8 running sums below 128 elements,
    /// halving (at a multiple of 8) above.
    static func pairwiseSum(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        if n < 8 {
            var result: Float = -0.0
            for i in 0..<n { result += a[i] }
            return result
        }
        if n <= 128 {
            var r0 = a[0], r1 = a[1], r2 = a[2], r3 = a[3], r4 = a[4], r5 = a[5], r6 = a[6], r7 = a[7]
            var i = 8
            while i < n - n % 8 {
                r0 += a[i]; r1 += a[i + 1]; r2 += a[i + 2]; r3 += a[i + 3]
                r4 += a[i + 4]; r5 += a[i + 5]; r6 += a[i + 6]; r7 += a[i + 7]
                i += 8
            }
            var result = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
            while i < n { result += a[i]; i += 1 }
            return result
        }
        var half = n / 2
        half -= half % 8
        return pairwiseSum(a, half) + pairwiseSum(a + half, n - half)
    }
}
