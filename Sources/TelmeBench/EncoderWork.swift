import TelmeModels

/// One matrix-product shape of a forward pass, `count` times: `C[m x n] = A[m x k] · B`,
/// with B stored `n x k` (a PyTorch `Linear` weight, or keys) when `transposeB`.
struct MatmulShape: Codable, Hashable, Sendable {
    var m: Int
    var n: Int
    var k: Int
    var count: Int
    var transposeB: Bool

    init(_ m: Int, _ n: Int, _ k: Int, count: Int = 1, transposeB: Bool = true) {
        self.m = m
        self.n = n
        self.k = k
        self.count = count
        self.transposeB = transposeB
    }

    /// 2 m n k per product (one multiply and one add per term).
    var flops: Double { 2 * Double(m) * Double(n) * Double(k) * Double(count) }

    /// The shape of one call, without the count (what `sgemm` is measured on).
    var call: MatmulShape { MatmulShape(m, n, k, count: 1, transposeB: transposeB) }

    var label: String { "\(m)x\(n)x\(k)" + (transposeB ? "" : " (B not transposed)") }
}

/// The matrix products of each encoder's forward pass on one input, from its config.
///
/// These are the model's nominal products, the ones PyTorch computes (every linear layer,
/// the attention scores `Q·Kᵀ` and contexts `P·V` head by head, the convolutions as im2col
/// products); the classification heads (one row) are left out (< 0.01 %). The same count
/// divides both sides' times, so GFLOP/s are comparable; telme skips some of the last layer's
/// rows (only the token the head reads), which the figure then includes as a gain.
/// Elementwise work (LayerNorm, GELU, softmax, bias) is not counted.
enum EncoderWork {
    /// RoBERTa on one sequence of `T` tokens, `L` layers of width `H`, FFN `F`, `A` heads of
    /// `d = H / A`: per layer four `T x H x H` (q, k, v, attention output), `T x F x H` and
    /// `T x H x F` (FFN), and per head `T x T x d` (scores) and `T x d x T` (context).
    /// FLOPs = L · (2T(4H² + 2HF) + 4T²H).
    static func roberta(_ c: RobertaConfig, tokens t: Int) -> [MatmulShape] {
        let h = c.hiddenSize, f = c.intermediateSize, l = c.numHiddenLayers, a = c.numAttentionHeads
        return [
            MatmulShape(t, h, h, count: 4 * l),
            MatmulShape(t, f, h, count: l),
            MatmulShape(t, h, f, count: l),
        ] + attention(length: t, headDim: h / a, count: a * l)
    }

    /// data2vec-audio on one clip of `samples` samples: conv layer i gives `T_i = (T_{i-1} -
    /// K_i) / S_i + 1` frames of `C_i` channels from `C_{i-1} K_i` inputs (`T_i x C_i x C_{i-1}K_i`);
    /// the feature projection `T x H x C`; each of the P positional conv layers has `G` groups of
    /// `T x (H/G) x (H/G)K_pos`; then the transformer layers as RoBERTa's on `T` frames.
    static func data2vecAudio(_ c: Data2VecAudioConfig, samples: Int) -> [MatmulShape] {
        var shapes: [MatmulShape] = []
        var length = samples, channels = 1
        for (i, out) in c.convDim.enumerated() {
            length = length >= c.convKernel[i] ? (length - c.convKernel[i]) / c.convStride[i] + 1 : 0
            shapes.append(MatmulShape(length, out, channels * c.convKernel[i]))
            channels = out
        }
        let t = length, h = c.hiddenSize, g = c.numConvPosEmbeddingGroups
        shapes.append(MatmulShape(t, h, channels))
        if c.numConvPosEmbeddings > 0 {
            shapes.append(MatmulShape(t, h / g, (h / g) * c.convPosKernelSize, count: g * c.numConvPosEmbeddings))
        }
        let l = c.numHiddenLayers, f = c.intermediateSize, a = c.numAttentionHeads
        shapes += [MatmulShape(t, h, h, count: 4 * l), MatmulShape(t, f, h, count: l), MatmulShape(t, h, f, count: l)]
        return shapes + attention(length: t, headDim: h / a, count: a * l)
    }

    /// TimeSformer (divided space-time) on one clip of `F` frames of `N = (S/p)²` patches:
    /// the patch embedding `FN x H x 3p²`; per layer the temporal block on the FN patch tokens
    /// (`FN x 3H x H` qkv, `FN x H x H` attention output and `FN x H x H` temporal dense, and
    /// N·A attentions of length F), the spatial block on F sequences of N + 1 tokens
    /// (`F(N+1) x 3H x H` qkv, `F(N+1) x H x H` output, F·A attentions of length N + 1), and
    /// the FFN on the FN + 1 tokens (`(FN+1) x I x H`, `(FN+1) x H x I`).
    static func timesformer(_ c: TimesformerConfig) -> [MatmulShape] {
        let side = c.imageSize / c.patchSize
        let n = side * side, frames = c.numFrames
        let h = c.hiddenSize, i = c.intermediateSize, l = c.numHiddenLayers, a = c.numAttentionHeads
        let patchTokens = frames * n, spatialRows = frames * (n + 1), tokens = patchTokens + 1
        return [
            MatmulShape(patchTokens, h, c.numChannels * c.patchSize * c.patchSize),
            MatmulShape(patchTokens, 3 * h, h, count: l),
            MatmulShape(patchTokens, h, h, count: 2 * l),
            MatmulShape(spatialRows, 3 * h, h, count: l),
            MatmulShape(spatialRows, h, h, count: l),
            MatmulShape(tokens, i, h, count: l),
            MatmulShape(tokens, h, i, count: l),
        ] + attention(length: frames, headDim: h / a, count: n * a * l)
          + attention(length: n + 1, headDim: h / a, count: frames * a * l)
    }

    /// Scores `T x T x d` (against the keys, transposed) and context `T x d x T`, `count` heads.
    static func attention(length t: Int, headDim d: Int, count: Int) -> [MatmulShape] {
        [MatmulShape(t, t, d, count: count), MatmulShape(t, d, t, count: count, transposeB: false)]
    }

    static func flops(_ shapes: [MatmulShape]) -> Double { shapes.reduce(0) { $0 + $1.flops } }
}
