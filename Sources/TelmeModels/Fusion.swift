import TelmeTensor

/// Why the fusion or its inputs were refused.
public enum FusionError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model description lacks the fusion or one of the students it fuses.
    case noFusion
    /// `numHeads` does not divide the audio + video width.
    case badHeads(heads: Int, width: Int)
    /// An input is not `[batch, width]` with the common batch and the width the model expects.
    case badInputShape(input: String, found: [Int], expected: [Int])

    public var description: String {
        switch self {
        case .noFusion:
            "the model has no fusion (ASF needs the fusion weights and both students)"
        case let .badHeads(heads, width):
            "fusion num_heads \(heads) does not divide the audio+video width \(width)"
        case let .badInputShape(input, found, expected):
            "fusion input \(input) has shape \(found), expected \(expected)"
        }
    }
}

/// ASF, the attention-based modality shifting fusion of TelME (`fusion.*`), as
/// TELME_REFERENCE.md states it.
///
/// `nv = concat(first, second)`; `nv2 = MHA(nv, nv, nv) + nv` with PyTorch
/// `MultiheadAttention` semantics on a 2-D input; `av = AV_LayerNorm(nv2)`;
/// `h_m = relu(W_hav(concat(av, h_t))) * W_av(av)`; `alpha = min(|h_t| / (|h_m| + 1e-6) *
/// beta_shift, 1)` (an |h_m| of 0 counts as 1); `logits = W(LayerNorm(h_t + alpha * h_m))`.
public final class Fusion {
    public let config: FusionConfig
    public let textDim: Int
    public let audioDim: Int
    public let videoDim: Int
    public let classes: Int
    /// Keeps the memory of every `WeightView` below alive.
    private let source: any WeightSource

    private let inProjWeight: WeightView
    private let inProjBias: WeightView
    private let outProjWeight: WeightView
    private let outProjBias: WeightView
    private let wHavWeight: WeightView
    private let wHavBias: WeightView
    private let wAvWeight: WeightView
    private let wAvBias: WeightView
    private let normWeight: WeightView
    private let normBias: WeightView
    private let avNormWeight: WeightView
    private let avNormBias: WeightView
    private let headWeight: WeightView
    private let headBias: WeightView

    /// Width of `nv`, the concatenated student embeddings.
    public var avDim: Int { audioDim + videoDim }

    /// Fetches and shape-checks every weight of ASF. Throws if the model has no fusion (or lacks
    /// a student, whose width the fusion takes), or a weight is missing or misshapen.
    public init(model: ModelDescription, weights: any WeightSource) throws {
        guard let config = model.fusion, let audio = model.audio, let video = model.video else {
            throw FusionError.noFusion
        }
        self.config = config
        self.source = weights
        textDim = model.text.projectionDim
        audioDim = audio.encoder.hiddenSize
        videoDim = video.encoder.hiddenSize
        classes = model.labels.count
        let av = audioDim + videoDim
        guard config.numHeads > 0, av % config.numHeads == 0 else {
            throw FusionError.badHeads(heads: config.numHeads, width: av)
        }
        func view(_ name: String, _ shape: [Int]) throws -> WeightView {
            try weights.weight(Architecture.fusionPrefix + name, shape: shape)
        }
        inProjWeight = try view("multihead_attn.in_proj_weight", [3 * av, av])
        inProjBias = try view("multihead_attn.in_proj_bias", [3 * av])
        outProjWeight = try view("multihead_attn.out_proj.weight", [av, av])
        outProjBias = try view("multihead_attn.out_proj.bias", [av])
        wHavWeight = try view("W_hav.weight", [textDim, av + textDim])
        wHavBias = try view("W_hav.bias", [textDim])
        wAvWeight = try view("W_av.weight", [textDim, av])
        wAvBias = try view("W_av.bias", [textDim])
        normWeight = try view("LayerNorm.weight", [textDim])
        normBias = try view("LayerNorm.bias", [textDim])
        avNormWeight = try view("AV_LayerNorm.weight", [av])
        avNormBias = try view("AV_LayerNorm.bias", [av])
        headWeight = try view("W.weight", [classes, textDim])
        headBias = try view("W.bias", [classes])
    }

    /// Throws unless the inputs are `[B, textDim]`, `[B, audioDim]`, `[B, videoDim]` with one B
    /// (that of `text`).
    public func validate(text: Tensor, audio: Tensor, video: Tensor) throws {
        let batch = max(text.shape.first ?? 1, 0)
        for (name, tensor, width) in [("text", text, textDim), ("audio", audio, audioDim), ("video", video, videoDim)] {
            guard tensor.shape == [batch, width] else {
                throw FusionError.badInputShape(input: name, found: tensor.shape, expected: [batch, width])
            }
        }
    }

    /// ASF logits `[B, classes]` of `h_t` `[B, textDim]`, `h_a` `[B, audioDim]`, `h_v`
    /// `[B, videoDim]` (shapes must pass `validate`).
    ///
    /// `.independent`: every row alone (its attention is over one element).
    /// `.officialBatch4`: the rows given form ONE batch of the authors' code, whose 2-D input
    /// makes the attention run across the rows; callers split a corpus in 4s.
    /// `order` decides whether `nv` is `concat(h_a, h_v)` or `concat(h_v, h_a)`.
    public func callAsFunction(text: Tensor, audio: Tensor, video: Tensor,
                               semantics: Settings.BatchSemantics, order: Settings.FusionOrder) -> Tensor {
        guard text.shape[0] > 0 else { return Tensor(zeros: [0, classes]) }
        return head(representation(text: text, audio: audio, video: video, semantics: semantics, order: order))
    }

    /// The classifier's logits `[B, classes]` of a fused representation.
    public func head(_ fused: Tensor) -> Tensor {
        Ops.linear(fused, weight: headWeight, bias: headBias)
    }

    /// The fused representation `LayerNorm(h_t + alpha * h_m)` `[B, textDim]` that the
    /// classifier reads (`callAsFunction` is `head` of it); arguments as for `callAsFunction`.
    public func representation(text: Tensor, audio: Tensor, video: Tensor,
                               semantics: Settings.BatchSemantics, order: Settings.FusionOrder) -> Tensor {
        precondition((try? validate(text: text, audio: audio, video: video)) != nil,
                     "Fusion: inputs \(text.shape), \(audio.shape), \(video.shape)")
        guard text.shape[0] > 0 else { return Tensor(zeros: [0, textDim]) }
        let (first, second) = order == .audioVideo ? (audio, video) : (video, audio)
        let avStates = attendedStudents(concatColumns(first, second), semantics: semantics)
        var fused = shifted(text, by: avStates)
        Ops.layerNorm(&fused, weight: normWeight, bias: normBias, eps: Float(config.layerNormEps))
        return fused
    }

    /// `av = AV_LayerNorm(MHA(nv, nv, nv) + nv)` `[B, avDim]`: PyTorch's MultiheadAttention
    /// (packed in-projection, per-head attention, out_proj) over the rows of `nv`, one sequence
    /// of B elements in `officialBatch4`, B sequences of one element otherwise.
    private func attendedStudents(_ nv: Tensor, semantics: Settings.BatchSemantics) -> Tensor {
        let batch = nv.shape[0]
        let av = avDim
        let (q, k, v) = splitQKV(Ops.linear(nv, weight: inProjWeight, bias: inProjBias))
        let (sequences, length) = semantics == .independent ? (batch, 1) : (1, batch)
        let context = Ops.attention(q: q.reshaped([sequences, length, av]), k: k.reshaped([sequences, length, av]),
                                    v: v.reshaped([sequences, length, av]), batch: sequences,
                                    seqQ: length, seqK: length, heads: config.numHeads)
        var avStates = Ops.linear(context.reshaped([batch, av]), weight: outProjWeight, bias: outProjBias)
        Ops.add(&avStates, nv)
        Ops.layerNorm(&avStates, weight: avNormWeight, bias: avNormBias, eps: Float(config.layerNormEps))
        return avStates
    }

    /// q, k and v `[B, avDim]`: the thirds of each row of the packed in-projection `[B, 3 avDim]`.
    private func splitQKV(_ projected: Tensor) -> (q: Tensor, k: Tensor, v: Tensor) {
        let batch = projected.shape[0]
        let av = avDim
        var q = Tensor(zeros: [batch, av])
        var k = Tensor(zeros: [batch, av])
        var v = Tensor(zeros: [batch, av])
        projected.data.withUnsafeBufferPointer { pp in
            q.data.withUnsafeMutableBufferPointer { qp in
                k.data.withUnsafeMutableBufferPointer { kp in
                    v.data.withUnsafeMutableBufferPointer { vp in
                        for r in 0..<batch {
                            let row = pp.baseAddress! + r * 3 * av
                            (qp.baseAddress! + r * av).update(from: row, count: av)
                            (kp.baseAddress! + r * av).update(from: row + av, count: av)
                            (vp.baseAddress! + r * av).update(from: row + 2 * av, count: av)
                        }
                    }
                }
            }
        }
        return (q, k, v)
    }

    /// `h_t + alpha * h_m` `[B, textDim]` before the final LayerNorm: the modality shift
    /// `h_m = relu(W_hav(concat(av, h_t))) * W_av(av)`, scaled per row by
    /// `alpha = min(|h_t| / (|h_m| + 1e-6) * beta_shift, 1)` (an |h_m| of 0 counts as 1).
    private func shifted(_ text: Tensor, by avStates: Tensor) -> Tensor {
        var gate = Ops.linear(concatColumns(avStates, text), weight: wHavWeight, bias: wHavBias)
        let shift = Ops.linear(avStates, weight: wAvWeight, bias: wAvBias)
        var fused = text
        let batch = text.shape[0]
        let beta = Float(config.betaShift)
        gate.data.withUnsafeMutableBufferPointer { g in
            shift.data.withUnsafeBufferPointer { s in
                text.data.withUnsafeBufferPointer { t in
                    fused.data.withUnsafeMutableBufferPointer { f in
                        for r in 0..<batch {
                            let base = r * textDim
                            var textSquares: Float = 0
                            var shiftSquares: Float = 0
                            for i in base..<(base + textDim) {
                                let hm = max(g[i], 0) * s[i]
                                g[i] = hm
                                shiftSquares += hm * hm
                                textSquares += t[i] * t[i]
                            }
                            var hmNorm = shiftSquares.squareRoot()
                            if hmNorm == 0 { hmNorm = 1 }
                            let alpha = min(textSquares.squareRoot() / (hmNorm + Float(1e-6)) * beta, 1)
                            for i in base..<(base + textDim) { f[i] = alpha * g[i] + t[i] }
                        }
                    }
                }
            }
        }
        return fused
    }

    /// `[B, a + b]`: the rows of `a` followed by the rows of `b`.
    private func concatColumns(_ a: Tensor, _ b: Tensor) -> Tensor {
        let rows = a.rows
        let (wa, wb) = (a.cols, b.cols)
        var out = Tensor(zeros: [rows, wa + wb])
        a.data.withUnsafeBufferPointer { ap in
            b.data.withUnsafeBufferPointer { bp in
                out.data.withUnsafeMutableBufferPointer { op in
                    for r in 0..<rows {
                        let row = op.baseAddress! + r * (wa + wb)
                        row.update(from: ap.baseAddress! + r * wa, count: wa)
                        (row + wa).update(from: bp.baseAddress! + r * wb, count: wb)
                    }
                }
            }
        }
        return out
    }
}
