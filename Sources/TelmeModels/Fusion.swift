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

    /// MultiheadAttention's packed q/k/v projection and its output projection.
    private let inProjection, outProjection: Linear
    /// `W_hav` (the gate over `[av, h_t]`) and `W_av` (the shift).
    private let gate, shift: Linear
    private let norm, avNorm: LayerNorm
    /// `W`: the classifier.
    private let classifier: Linear

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
        // ASF's products run on OpenBLAS whatever the backend (`headsBackend`).
        let prefix = Architecture.fusionPrefix, eps = config.layerNormEps, backend = headsBackend
        inProjection = try Linear(weight: weights.weight(prefix + "multihead_attn.in_proj_weight", shape: [3 * av, av]),
                                  bias: weights.weight(prefix + "multihead_attn.in_proj_bias", shape: [3 * av]),
                                  backend: backend)
        outProjection = try Linear(weights, prefix + "multihead_attn.out_proj", out: av, in: av, backend: backend)
        gate = try Linear(weights, prefix + "W_hav", out: textDim, in: av + textDim, backend: backend)
        shift = try Linear(weights, prefix + "W_av", out: textDim, in: av, backend: backend)
        norm = try LayerNorm(weights, prefix + "LayerNorm", width: textDim, eps: eps)
        avNorm = try LayerNorm(weights, prefix + "AV_LayerNorm", width: av, eps: eps)
        classifier = try Linear(weights, prefix + "W", out: classes, in: textDim, backend: backend)
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
        classifier(fused)
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
        norm(&fused)
        return fused
    }

    /// `av = AV_LayerNorm(MHA(nv, nv, nv) + nv)` `[B, avDim]`: PyTorch's MultiheadAttention
    /// (packed in-projection, per-head attention, out_proj) over the rows of `nv`, one sequence
    /// of B elements in `officialBatch4`, B sequences of one element otherwise.
    private func attendedStudents(_ nv: Tensor, semantics: Settings.BatchSemantics) -> Tensor {
        let batch = nv.shape[0]
        let av = avDim
        let (q, k, v) = splitQKV(inProjection(nv))
        let (sequences, length) = semantics == .independent ? (batch, 1) : (1, batch)
        let context = Ops.attention(q: q.reshaped([sequences, length, av]), k: k.reshaped([sequences, length, av]),
                                    v: v.reshaped([sequences, length, av]), batch: sequences,
                                    seqQ: length, seqK: length, heads: config.numHeads)
        var avStates = outProjection(context.reshaped([batch, av]))
        Ops.add(&avStates, nv)
        avNorm(&avStates)
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
        var gate = self.gate(concatColumns(avStates, text))
        let shift = self.shift(avStates)
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
