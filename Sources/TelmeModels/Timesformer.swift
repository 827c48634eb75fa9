import TelmeTensor

/// Why a video model or its input was refused.
public enum VideoModelError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The model description has no video student.
    case noVideoStudent
    /// A config value the encoder cannot run (field name, value, what is supported).
    case unsupportedConfig(field: String, value: String, supported: String)
    /// A clip tensor whose shape is not `[batch, frames, channels, height, width]` of the config.
    case badInputShape(found: [Int], expected: [Int])

    public var description: String {
        switch self {
        case .noVideoStudent:
            "the model has no video student"
        case let .unsupportedConfig(field, value, supported):
            "TimeSformer config \(field) = \(value) is not supported (supported: \(supported))"
        case let .badInputShape(found, expected):
            "video input has shape \(found), expected \(expected) (batch x frames x channels x height x width)"
        }
    }
}

/// The TimeSformer encoder of HF transformers 4.27 (`TimesformerModel`) with divided space-time
/// attention, for any `TimesformerConfig`.
///
/// Hidden states are kept as HF lays them out: per clip, the CLS token first, then the patch
/// tokens patch-major and frame-minor (token `1 + p * frames + t` is patch p of frame t).
/// Temporal attention then runs over contiguous groups of `frames` tokens; spatial attention
/// runs over `[CLS, the patches of frame t]`, gathered with strided row copies.
public final class Timesformer {
    public let config: TimesformerConfig
    /// Keeps the memory of every `WeightView` below alive.
    private let source: any WeightSource
    /// The fused temporal projections (`Layer.temporalProjection`), computed at load.
    private let derived = ArrayWeights()

    private struct Layer {
        let temporalNorm: LayerNorm
        let temporalQKV: Linear
        /// HF's temporal attention output dense followed by `temporal_dense`, with nothing
        /// between them, as one dense layer: `Wd (Wo x + bo) + bd = (Wd Wo) x + (Wd bo + bd)`.
        let temporalProjection: Linear
        let normBefore: LayerNorm
        let qkv: Linear
        let attentionOutput: Linear
        let normAfter: LayerNorm
        let intermediate: Linear
        let output: Linear
    }

    private let clsToken: WeightView
    private let positionEmbeddings: WeightView
    private let timeEmbeddings: WeightView
    /// The patch embedding's conv as a dense layer on flattened patches (`hidden x (c p p)`).
    private let patchProjection: Linear
    private let layers: [Layer]
    private let finalNorm: LayerNorm

    /// Patches per side of a frame.
    public let patchesPerSide: Int
    /// Patches per frame.
    public var patchesPerFrame: Int { patchesPerSide * patchesPerSide }
    /// Tokens per clip: CLS plus every patch of every frame.
    public var tokensPerClip: Int { 1 + patchesPerFrame * config.numFrames }
    private var hidden: Int { config.hiddenSize }

    /// Refuses a config this implementation does not compute.
    private static func check(_ config: TimesformerConfig) throws {
        guard config.attentionType == "divided_space_time" else {
            throw VideoModelError.unsupportedConfig(field: "attention_type", value: config.attentionType,
                                                    supported: "divided_space_time")
        }
        guard config.hiddenAct == "gelu" else {
            throw VideoModelError.unsupportedConfig(field: "hidden_act", value: config.hiddenAct, supported: "gelu")
        }
        guard config.hiddenSize > 0, config.numAttentionHeads > 0,
              config.hiddenSize % config.numAttentionHeads == 0 else {
            throw VideoModelError.unsupportedConfig(
                field: "num_attention_heads", value: "\(config.numAttentionHeads)",
                supported: "a divisor of hidden_size \(config.hiddenSize)")
        }
        guard config.patchSize > 0, config.imageSize >= config.patchSize else {
            throw VideoModelError.unsupportedConfig(field: "patch_size", value: "\(config.patchSize)",
                                                    supported: "1...image_size (\(config.imageSize))")
        }
        guard config.numFrames > 0, config.numChannels > 0, config.intermediateSize > 0 else {
            throw VideoModelError.unsupportedConfig(
                field: "num_frames/num_channels/intermediate_size",
                value: "\(config.numFrames)/\(config.numChannels)/\(config.intermediateSize)", supported: "> 0")
        }
    }

    /// Fetches and shape-checks every weight of the encoder, named `prefix` + the HF name
    /// (`prefix` is e.g. `video.model.`).
    public init(config: TimesformerConfig, weights: any WeightSource, prefix: String) throws {
        try Self.check(config)
        self.config = config
        self.source = weights
        let h = config.hiddenSize
        let side = config.imageSize / config.patchSize
        patchesPerSide = side

        func view(_ name: String, _ shape: [Int]) throws -> WeightView {
            try weights.weight(prefix + name, shape: shape)
        }
        func norm(_ name: String) throws -> LayerNorm {
            try LayerNorm(weights, prefix + name, width: h, eps: config.layerNormEps)
        }
        func dense(_ name: String, out: Int, in inDim: Int, bias: Bool = true,
                   activation: Activation = .none) throws -> Linear {
            try Linear(weights, prefix + name, out: out, in: inDim, bias: bias, activation: activation, quantisable: true)
        }
        clsToken = try view("embeddings.cls_token", [1, 1, h])
        positionEmbeddings = try view("embeddings.position_embeddings", [1, side * side + 1, h])
        timeEmbeddings = try view("embeddings.time_embeddings", [1, config.numFrames, h])
        let patchWeight = try view("embeddings.patch_embeddings.projection.weight",
                                   [h, config.numChannels, config.patchSize, config.patchSize])
        patchProjection = Linear(
            weight: WeightView(shape: [h, config.numChannels * config.patchSize * config.patchSize], base: patchWeight.base),
            bias: try view("embeddings.patch_embeddings.projection.bias", [h]))
        let derived = self.derived
        layers = try (0..<config.numHiddenLayers).map { i in
            let p = "encoder.layer.\(i)"
            return Layer(
                temporalNorm: try norm("\(p).temporal_layernorm"),
                temporalQKV: try dense("\(p).temporal_attention.attention.qkv", out: 3 * h, in: h,
                                       bias: config.qkvBias),
                temporalProjection: try Self.fusedProjection(
                    weights, into: derived, first: prefix + "\(p).temporal_attention.output.dense",
                    then: prefix + "\(p).temporal_dense", name: "\(p).temporal_projection", width: h),
                normBefore: try norm("\(p).layernorm_before"),
                qkv: try dense("\(p).attention.attention.qkv", out: 3 * h, in: h, bias: config.qkvBias),
                attentionOutput: try dense("\(p).attention.output.dense", out: h, in: h),
                normAfter: try norm("\(p).layernorm_after"),
                intermediate: try dense("\(p).intermediate.dense", out: config.intermediateSize, in: h, activation: .gelu),
                output: try dense("\(p).output.dense", out: h, in: config.intermediateSize))
        }
        finalNorm = try norm("layernorm")
    }

    /// HF's temporal attention output dense followed by `temporal_dense`, with nothing between
    /// them, as one dense layer `(Wd Wo) x + (Wd bo + bd)`, kept in `derived`. One h x h x h
    /// product per layer at load (about 0.1 s for TimeSformer-base) saves one (frames * patches)
    /// x h x h product per layer and clip (5.6 % of the encoder's work).
    private static func fusedProjection(_ weights: any WeightSource, into derived: ArrayWeights,
                                        first firstName: String, then secondName: String, name: String,
                                        width h: Int) throws -> Linear {
        func view(_ name: String, _ shape: [Int]) throws -> WeightView { try weights.weight(name, shape: shape) }
        let first = (weight: try view("\(firstName).weight", [h, h]), bias: try view("\(firstName).bias", [h]))
        let second = (weight: try view("\(secondName).weight", [h, h]), bias: try view("\(secondName).bias", [h]))
        var weight = [Float](repeating: 0, count: h * h)
        var bias = [Float](repeating: 0, count: h)
        weight.withUnsafeMutableBufferPointer { w in
            Gemm.multiply(m: h, n: h, k: h, a: second.weight.base, lda: h, b: first.weight.base, ldb: h,
                          c: w.baseAddress!, ldc: h)
        }
        bias.withUnsafeMutableBufferPointer { b in
            b.baseAddress!.update(from: second.bias.base, count: h)
            Gemm.multiply(m: 1, n: h, k: h, a: first.bias.base, lda: h, b: second.weight.base, ldb: h,
                          transposeB: true, c: b.baseAddress!, ldc: h, beta: 1)
        }
        derived.set("\(name).weight", shape: [h, h], values: weight)
        derived.set("\(name).bias", shape: [h], values: bias)
        return Linear(weight: try derived.weight("\(name).weight", shape: [h, h]),
                      bias: try derived.weight("\(name).bias", shape: [h]), quantisable: true)
    }

    /// The clip shape this encoder takes for a batch of `batch` clips.
    public func inputShape(batch: Int) -> [Int] {
        [batch, config.numFrames, config.numChannels, config.imageSize, config.imageSize]
    }

    /// Throws unless `video` is `[batch, frames, channels, imageSize, imageSize]` (any batch >= 0).
    public func validate(_ video: Tensor) throws {
        let batch = max(video.shape.first ?? 1, 0)
        guard video.shape.count == 5, video.shape == inputShape(batch: batch) else {
            throw VideoModelError.badInputShape(found: video.shape, expected: inputShape(batch: batch))
        }
    }

    /// `last_hidden_state` `[batch, tokensPerClip, hidden]` of clips `[batch, frames, channels,
    /// imageSize, imageSize]` (already normalised). The shape must pass `validate`.
    public func callAsFunction(_ video: Tensor) -> Tensor {
        var states = run(video, lastLayerCLSOnly: false)
        finalNorm(&states)
        return states
    }

    /// The CLS row of `last_hidden_state`, `[batch, hidden]`: the same values as
    /// `self(video)[:, 0, :]`, without the last layer's feed-forward on the patch tokens.
    public func cls(_ video: Tensor) -> Tensor {
        let states = run(video, lastLayerCLSOnly: true)
        var cls = gatherRows(states, count: video.shape[0]) { $0 * tokensPerClip }
        finalNorm(&cls)
        return cls
    }

    // MARK: - Forward

    /// Embeddings and every layer, before the final LayerNorm. With `lastLayerCLSOnly` the last
    /// layer's feed-forward (and so its output) is computed for the CLS rows only; the patch
    /// rows of the result are then not the encoder's.
    private func run(_ video: Tensor, lastLayerCLSOnly: Bool) -> Tensor {
        precondition((try? validate(video)) != nil,
                     "Timesformer: input \(video.shape), expected \(inputShape(batch: video.shape.first ?? 1))")
        let batch = video.shape[0]
        guard batch > 0 else { return Tensor(zeros: [0, tokensPerClip, hidden]) }
        var states = embed(video, batch: batch)
        for (i, layer) in layers.enumerated() {
            states = apply(layer, to: states, batch: batch,
                           clsOnlyFeedForward: lastLayerCLSOnly && i == layers.count - 1)
        }
        return states
    }

    /// Patch embedding (one product over every patch of every frame), CLS, position and time
    /// embeddings, in HF's token order.
    private func embed(_ video: Tensor, batch: Int) -> Tensor {
        let frames = config.numFrames
        let channels = config.numChannels
        let size = config.imageSize
        let ps = config.patchSize
        let side = patchesPerSide
        let perFrame = patchesPerFrame
        let patchLength = channels * ps * ps
        let h = hidden

        // im2col: row (clip * frames + t) * perFrame + py * side + px holds the patch's pixels
        // in the conv weight's (channel, y, x) order; every run of `ps` pixels is contiguous.
        let patchRows = batch * frames * perFrame
        var columns = Tensor(zeros: [patchRows, patchLength])
        video.data.withUnsafeBufferPointer { src in
            columns.data.withUnsafeMutableBufferPointer { dst in
                let s = src.baseAddress!
                let d = dst.baseAddress!
                for image in 0..<(batch * frames) {
                    let imageBase = s + image * channels * size * size
                    for py in 0..<side {
                        for px in 0..<side {
                            let row = d + ((image * perFrame) + py * side + px) * patchLength
                            for c in 0..<channels {
                                for y in 0..<ps {
                                    let from = imageBase + (c * size + py * ps + y) * size + px * ps
                                    (row + (c * ps + y) * ps).update(from: from, count: ps)
                                }
                            }
                        }
                    }
                }
            }
        }
        let patches = patchProjection(columns)

        var states = Tensor(zeros: [batch, tokensPerClip, h])
        patches.data.withUnsafeBufferPointer { pp in
            states.data.withUnsafeMutableBufferPointer { sp in
                let pos = positionEmbeddings.base
                let time = timeEmbeddings.base
                for b in 0..<batch {
                    let clip = sp.baseAddress! + b * tokensPerClip * h
                    for i in 0..<h { clip[i] = clsToken.base[i] + pos[i] }
                    for p in 0..<perFrame {
                        let posRow = pos + (1 + p) * h
                        for t in 0..<frames {
                            let from = pp.baseAddress! + ((b * frames + t) * perFrame + p) * h
                            let to = clip + (1 + p * frames + t) * h
                            let timeRow = time + t * h
                            // HF adds the position embedding, then the time embedding.
                            for i in 0..<h { to[i] = (from[i] + posRow[i]) + timeRow[i] }
                        }
                    }
                }
            }
        }
        return states
    }

    /// One divided space-time layer on `[batch, tokensPerClip, hidden]`.
    private func apply(_ layer: Layer, to states: Tensor, batch: Int, clsOnlyFeedForward: Bool) -> Tensor {
        let h = hidden
        let frames = config.numFrames
        let perFrame = patchesPerFrame
        let tokens = tokensPerClip
        let patchTokens = perFrame * frames

        // Temporal: the patch tokens of each clip, in groups of `frames` (one group per patch).
        var temporal = Tensor(zeros: [batch * patchTokens, h])
        copyRows(from: states, to: &temporal, count: batch * patchTokens) { r in
            (r / patchTokens) * tokens + 1 + r % patchTokens
        } destination: { $0 }
        var normed = temporal
        layer.temporalNorm(&normed)
        let attended = selfAttention(normed, qkv: layer.temporalQKV, output: layer.temporalProjection,
                                     sequences: batch * perFrame, length: frames)
        Ops.add(&temporal, attended)

        // Spatial: per frame, [the layer's input CLS, the frame's patches].
        let spatialLength = 1 + perFrame
        var spatial = Tensor(zeros: [batch * frames * spatialLength, h])
        copyRows(from: states, to: &spatial, count: batch * frames) { r in
            (r / frames) * tokens
        } destination: { $0 * spatialLength }
        copyRows(from: temporal, to: &spatial, count: batch * frames * perFrame) { r in
            // r = (clip * frames + t) * perFrame + p
            let p = r % perFrame
            let image = r / perFrame
            return (image / frames) * patchTokens + p * frames + image % frames
        } destination: { r in (r / perFrame) * spatialLength + 1 + r % perFrame }
        layer.normBefore(&spatial)
        let spatialOut = selfAttention(spatial, qkv: layer.qkv, output: layer.attentionOutput,
                                       sequences: batch * frames, length: spatialLength)

        var next = combine(states, temporal: temporal, spatial: spatialOut, batch: batch)

        // Feed-forward with its residual.
        if clsOnlyFeedForward {
            var cls = gatherRows(next, count: batch) { $0 * tokens }
            let out = feedForward(cls, layer)
            Ops.add(&cls, out)
            copyRows(from: cls, to: &next, count: batch) { $0 } destination: { $0 * tokens }
        } else {
            Ops.add(&next, feedForward(next, layer))
        }
        return next
    }

    /// The divided attention's residual: each clip's CLS plus the mean over frames of its
    /// spatial outputs, and each patch token's temporal result plus its spatial output, back in
    /// token order (`[batch, tokens, hidden]`).
    private func combine(_ states: Tensor, temporal: Tensor, spatial spatialOut: Tensor, batch: Int) -> Tensor {
        let h = hidden
        let frames = config.numFrames
        let perFrame = patchesPerFrame
        let tokens = tokensPerClip
        let patchTokens = perFrame * frames
        let spatialLength = 1 + perFrame
        var next = Tensor(zeros: [batch, tokens, h])
        states.data.withUnsafeBufferPointer { inp in
            temporal.data.withUnsafeBufferPointer { tp in
                spatialOut.data.withUnsafeBufferPointer { op in
                    next.data.withUnsafeMutableBufferPointer { np in
                        let inBase = inp.baseAddress!
                        let tBase = tp.baseAddress!
                        let oBase = op.baseAddress!
                        let nBase = np.baseAddress!
                        var mean = [Float](repeating: 0, count: h)
                        for b in 0..<batch {
                            for i in 0..<h { mean[i] = 0 }
                            for t in 0..<frames {
                                let row = oBase + (b * frames + t) * spatialLength * h
                                for i in 0..<h { mean[i] += row[i] }
                            }
                            let clsIn = inBase + b * tokens * h
                            let clsOut = nBase + b * tokens * h
                            for i in 0..<h { clsOut[i] = clsIn[i] + mean[i] / Float(frames) }
                            for p in 0..<perFrame {
                                for t in 0..<frames {
                                    let token = p * frames + t
                                    let from = tBase + (b * patchTokens + token) * h
                                    let res = oBase + ((b * frames + t) * spatialLength + 1 + p) * h
                                    let to = nBase + (b * tokens + 1 + token) * h
                                    for i in 0..<h { to[i] = from[i] + res[i] }
                                }
                            }
                        }
                    }
                }
            }
        }
        return next
    }

    /// layernorm_after -> intermediate dense -> GELU -> output dense (no residual).
    private func feedForward(_ x: Tensor, _ layer: Layer) -> Tensor {
        var y = x
        layer.normAfter(&y)
        return layer.output(layer.intermediate(y))
    }

    /// HF `TimeSformerAttention` on `sequences` contiguous sequences of `length` rows: the
    /// fused qkv projection (columns q | k | v, heads side by side in each), scaled
    /// dot-product attention per head, and the output dense.
    private func selfAttention(_ x: Tensor, qkv: Linear, output: Linear, sequences: Int, length: Int) -> Tensor {
        let h = hidden
        let projected = qkv(x)
        // q, k and v are read in place from the fused projection (row stride 3h).
        let context = projected.data.withUnsafeBufferPointer { pp in
            let base = pp.baseAddress!
            return Ops.attention(q: StridedRows(base, stride: 3 * h), k: StridedRows(base + h, stride: 3 * h),
                                 v: StridedRows(base + 2 * h, stride: 3 * h), width: h, batch: sequences,
                                 seqQ: length, seqK: length, heads: config.numAttentionHeads)
        }
        return output(context)
    }

    // MARK: - Row copies

    /// Copies `count` rows of width `hidden`: row `source(r)` of `from` to row `destination(r)` of `to`.
    private func copyRows(from: Tensor, to: inout Tensor, count: Int, source: (Int) -> Int,
                          destination: (Int) -> Int) {
        let h = hidden
        from.data.withUnsafeBufferPointer { fp in
            to.data.withUnsafeMutableBufferPointer { tp in
                for r in 0..<count {
                    (tp.baseAddress! + destination(r) * h).update(from: fp.baseAddress! + source(r) * h, count: h)
                }
            }
        }
    }

    /// `[count, hidden]` made of rows `source(r)` of `from`.
    private func gatherRows(_ from: Tensor, count: Int, source: (Int) -> Int) -> Tensor {
        var out = Tensor(zeros: [count, hidden])
        copyRows(from: from, to: &out, count: count, source: source) { $0 }
        return out
    }
}
