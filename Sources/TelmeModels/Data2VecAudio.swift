import TelmeTensor

/// Why an audio model cannot be built, or cannot run on an input.
public enum AudioModelError: Error, CustomStringConvertible, Equatable {
    /// The model description has no audio student.
    case noAudioStudent
    /// The data2vec-audio config cannot describe a working network.
    case invalidConfig(String)
    /// An activation other than exact GELU (`gelu`) was asked for.
    case unsupportedActivation(field: String, value: String)
    /// The input is not `batch x samples`.
    case inputShape([Int])
    /// The clip is shorter than the receptive field of the conv feature extractor, so not even
    /// one frame exists (PyTorch raises an error for such inputs too).
    case tooShort(samples: Int, minimum: Int)

    public var description: String {
        switch self {
        case .noAudioStudent:
            "the model has no audio student"
        case .invalidConfig(let why):
            "invalid data2vec-audio config: \(why)"
        case .unsupportedActivation(let field, let value):
            "data2vec-audio config: \(field) \"\(value)\" is not supported (only \"gelu\")"
        case .inputShape(let shape):
            "audio input has shape \(shape), expected batch x samples"
        case .tooShort(let samples, let minimum):
            "audio of \(samples) samples is shorter than the \(minimum) samples the conv feature extractor needs for one frame"
        }
    }
}

/// The data2vec-audio encoder (HF `Data2VecAudioModel` of transformers 4.27, inference, no
/// attention mask): conv feature extractor, feature projection, positional conv embedding and
/// post-LN transformer layers.
///
/// Activations are `batch x frames x channels`. Weights are views into the `WeightSource`
/// (usually the mapped model file), which this object keeps alive.
public final class Data2VecAudio: Sendable {
    struct ConvLayer {
        /// The conv's weights and bias.
        var kernel: Conv1d.Kernel
        var norm: LayerNorm
        var stride: Int
    }

    struct PositionLayer {
        /// The grouped conv's weights and bias.
        var kernel: Conv1d.Kernel
    }

    struct EncoderLayer {
        /// q_proj, k_proj and v_proj in one product (`Linear(stacking:)`).
        var queryKeyValue, out: Linear
        var norm: LayerNorm
        var intermediate, output: Linear
        var finalNorm: LayerNorm

        /// Fetches the layer at `p` (`<prefix>encoder.layers.<i>`).
        init(_ config: Data2VecAudioConfig, weights: any WeightSource, prefix p: String) throws {
            let h = config.hiddenSize, f = config.intermediateSize
            let names = Architecture.PostNormLayerNames.data2Vec
            func layerNorm(_ name: String) throws -> LayerNorm {
                try LayerNorm(weights, "\(p).\(name)", width: h, eps: config.layerNormEps)
            }
            func dense(_ name: String, out: Int, in inDim: Int, activation: Activation = .none) throws -> Linear {
                try Linear(weights, "\(p).\(name)", out: out, in: inDim, activation: activation, quantisable: true)
            }
            queryKeyValue = try Linear(weights, stacking: names.queryKeyValue.map { "\(p).\($0)" },
                                       out: h, in: h, quantisable: true)
            out = try dense(names.attentionOutput, out: h, in: h)
            norm = try layerNorm(names.attentionNorm)
            intermediate = try dense(names.intermediate, out: f, in: h, activation: .gelu)
            output = try dense(names.output, out: h, in: f)
            finalNorm = try layerNorm(names.outputNorm)
        }
    }

    public let config: Data2VecAudioConfig
    /// The fewest samples that give one frame (400 for data2vec-audio-base).
    public let minimumSamples: Int

    let weights: any WeightSource
    let convLayers: [ConvLayer]
    let projectionNorm: LayerNorm
    let projection: Linear
    let positionLayers: [PositionLayer]
    let encoderNorm: LayerNorm
    let layers: [EncoderLayer]

    /// LayerNorms that HF builds with PyTorch's default eps, whatever `layer_norm_eps` says:
    /// the conv feature extractor's and the positional conv layers'.
    static let defaultNormEps: Float = 1e-5

    /// Fetches and shape-checks every weight of the encoder under `prefix` (e.g. `audio.model.`).
    public init(config: Data2VecAudioConfig, weights: any WeightSource, prefix: String) throws {
        try Self.validate(config)
        self.config = config
        self.weights = weights
        let h = config.hiddenSize

        convLayers = try Self.featureExtractor(config, weights: weights, prefix: prefix)
        let features = config.convDim.last!
        projectionNorm = try LayerNorm(weights, "\(prefix)feature_projection.layer_norm", width: features,
                                       eps: config.layerNormEps)
        projection = try Linear(weights, "\(prefix)feature_projection.projection", out: h, in: features, quantisable: true)

        let groupWidth = h / config.numConvPosEmbeddingGroups
        positionLayers = try (0..<config.numConvPosEmbeddings).map { i in
            let p = "\(prefix)encoder.pos_conv_embed.layers.\(i).conv"
            return PositionLayer(kernel: Conv1d.Kernel(
                try weights.weight("\(p).weight", shape: [h, groupWidth, config.convPosKernelSize]),
                bias: try weights.weight("\(p).bias", shape: [h]), groups: config.numConvPosEmbeddingGroups))
        }
        encoderNorm = try LayerNorm(weights, "\(prefix)encoder.layer_norm", width: h, eps: config.layerNormEps)

        layers = try (0..<config.numHiddenLayers).map { i in
            try EncoderLayer(config, weights: weights, prefix: "\(prefix)encoder.layers.\(i)")
        }

        var minimum = 1
        for (kernel, stride) in zip(config.convKernel, config.convStride).reversed() {
            minimum = (minimum - 1) * stride + kernel
        }
        minimumSamples = minimum
    }

    /// The conv feature extractor's layers. In int8 they run quantised, but for the first: it
    /// reads the waveform 10 samples a window (0.2 % of the products, nothing to gain). (The
    /// positional convolutions, 48-wide groups, stay float32 too: int8 measured no faster.)
    private static func featureExtractor(_ config: Data2VecAudioConfig, weights: any WeightSource,
                                         prefix: String) throws -> [ConvLayer] {
        try config.convDim.enumerated().map { i, out in
            let p = "\(prefix)feature_extractor.conv_layers.\(i)"
            let inChannels = i == 0 ? 1 : config.convDim[i - 1]
            return ConvLayer(
                kernel: Conv1d.Kernel(try weights.weight("\(p).conv.weight", shape: [out, inChannels, config.convKernel[i]]),
                                      bias: config.convBias ? try weights.weight("\(p).conv.bias", shape: [out]) : nil,
                                      quantisable: i > 0),
                norm: try LayerNorm(weights, "\(p).layer_norm", width: out, eps: Double(defaultNormEps)),
                stride: config.convStride[i])
        }
    }

    /// Refuses configs the network cannot run with, before any weight is looked at.
    static func validate(_ c: Data2VecAudioConfig) throws {
        func require(_ ok: Bool, _ why: @autoclosure () -> String) throws {
            if !ok { throw AudioModelError.invalidConfig(why()) }
        }
        try require(!c.convDim.isEmpty, "conv_dim is empty")
        try require(c.convDim.count == c.convKernel.count && c.convDim.count == c.convStride.count,
                    "conv_dim, conv_kernel and conv_stride have \(c.convDim.count), \(c.convKernel.count) and \(c.convStride.count) entries")
        try require(c.convDim.allSatisfy { $0 > 0 } && c.convKernel.allSatisfy { $0 > 0 } && c.convStride.allSatisfy { $0 > 0 },
                    "conv_dim, conv_kernel and conv_stride must be positive")
        try require(c.hiddenSize > 0 && c.intermediateSize > 0 && c.numHiddenLayers >= 0, "sizes must be positive")
        try require(c.numAttentionHeads > 0 && c.hiddenSize % c.numAttentionHeads == 0,
                    "hidden_size \(c.hiddenSize) is not a multiple of num_attention_heads \(c.numAttentionHeads)")
        try require(c.numConvPosEmbeddings >= 0, "num_conv_pos_embeddings is negative")
        try require(c.convPosKernelSize > 0, "conv_pos_kernel_size must be positive")
        try require(c.numConvPosEmbeddingGroups > 0 && c.hiddenSize % c.numConvPosEmbeddingGroups == 0,
                    "hidden_size \(c.hiddenSize) is not a multiple of num_conv_pos_embedding_groups \(c.numConvPosEmbeddingGroups)")
        try require(c.layerNormEps > 0 && c.layerNormEps.isFinite, "layer_norm_eps must be positive")
        // Checked overflow-free: a receptive field beyond Int is nonsense anyway.
        var field = 1
        for (kernel, stride) in zip(c.convKernel, c.convStride).reversed() {
            let (grown, o1) = (field - 1).multipliedReportingOverflow(by: stride)
            let (next, o2) = grown.addingReportingOverflow(kernel)
            try require(!o1 && !o2, "the conv stack's receptive field overflows")
            field = next
        }
        if c.featExtractActivation != "gelu" {
            throw AudioModelError.unsupportedActivation(field: "feat_extract_activation", value: c.featExtractActivation)
        }
        if c.hiddenAct != "gelu" {
            throw AudioModelError.unsupportedActivation(field: "hidden_act", value: c.hiddenAct)
        }
    }

    /// Frames the encoder produces for a clip of `samples` samples (0 when it is too short).
    public func frames(samples: Int) -> Int {
        var length = samples
        for layer in convLayers {
            length = Conv1d.outputLength(inputLength: length, kernel: layer.kernel.width, stride: layer.stride)
        }
        return length
    }

    /// `last_hidden_state` of `audio` (`batch x samples`): `batch x frames x hidden`, or only
    /// frame 0 of each row (`batch x 1 x hidden`) when `firstFrameOnly`, which skips the last
    /// layer's work on the other frames (their keys and values are still used).
    public func callAsFunction(_ audio: Tensor, firstFrameOnly: Bool = false) throws -> Tensor {
        guard audio.shape.count == 2 else { throw AudioModelError.inputShape(audio.shape) }
        let batch = audio.shape[0], samples = audio.shape[1]
        if batch == 0 {
            return Tensor(zeros: [0, firstFrameOnly ? 1 : frames(samples: samples), config.hiddenSize])
        }
        guard frames(samples: samples) > 0 else {
            throw AudioModelError.tooShort(samples: samples, minimum: minimumSamples)
        }

        // One clip at a time through the conv stack: its first layers' outputs are the largest
        // activations of the model (164 MB for 400 000 samples), so only one clip's exist at once.
        var features: [Float] = []
        var featureShape: [Int] = []
        for b in 0..<batch {
            var x = Tensor(shape: [1, samples, 1], data: Array(audio.data[(b * samples)..<((b + 1) * samples)]))
            for layer in convLayers {
                x = Conv1d.forward(x, kernel: layer.kernel, stride: layer.stride)
                layer.norm(&x)
                Ops.gelu(&x)
            }
            if b == 0 {
                featureShape = [batch, x.shape[1], x.shape[2]]
                features.reserveCapacity(batch * x.count)
            }
            features += x.data
        }
        var x = Tensor(shape: featureShape, data: features)

        projectionNorm(&x)
        var hidden = projection(x)

        Ops.add(&hidden, positionEmbedding(hidden))
        encoderNorm(&hidden)

        for (i, layer) in layers.enumerated() {
            hidden = encoderLayer(layer, hidden, firstFrameOnly: firstFrameOnly && i == layers.count - 1)
        }
        if firstFrameOnly && hidden.shape[1] != 1 {
            hidden = Self.firstFrames(hidden)
        }
        return hidden
    }

    /// The positional conv layers in sequence; with none, HF adds the hidden states to themselves.
    func positionEmbedding(_ hidden: Tensor) -> Tensor {
        let kernel = config.convPosKernelSize
        var x = hidden
        for layer in positionLayers {
            x = Conv1d.forward(x, kernel: layer.kernel, padding: kernel / 2)
            if kernel % 2 == 0 { x = Self.droppingLastFrame(x) }
            Ops.layerNorm(&x, weight: nil, bias: nil, eps: Self.defaultNormEps)
            Ops.gelu(&x)
        }
        return x
    }

    /// One post-LN layer. With `firstFrameOnly` the queries and everything after the attention
    /// are computed for frame 0 only; the result is then `batch x 1 x hidden`.
    func encoderLayer(_ layer: EncoderLayer, _ input: Tensor, firstFrameOnly: Bool) -> Tensor {
        let batch = input.shape[0], length = input.shape[1]
        let residual = firstFrameOnly ? Self.firstFrames(input) : input
        let h = config.hiddenSize
        var projected = layer.queryKeyValue(input)
        // HF scales the projected queries (not the scores) by head_dim^-0.5. (With
        // `firstFrameOnly` the other frames' queries are computed too: one stacked product.)
        let scaling = Float(1 / Double(h / config.numAttentionHeads).squareRoot())
        projected.data.withUnsafeMutableBufferPointer { p in
            for row in 0..<(batch * length) {
                for i in (row * 3 * h)..<(row * 3 * h + h) { p[i] *= scaling }
            }
        }
        let context = Ops.selfAttention(projected, batch: batch, length: length, heads: config.numAttentionHeads,
                                        queryPosition: firstFrameOnly ? 0 : nil, scale: 1)
        var x = layer.out(context.reshaped(residual.shape))
        layer.norm(&x, residual: residual)
        var y = layer.output(layer.intermediate(x))
        layer.finalNorm(&y, residual: x)
        return y
    }

    /// `x[:, 0:1, :]` of a `batch x frames x width` tensor.
    static func firstFrames(_ x: Tensor) -> Tensor {
        let batch = x.shape[0], length = x.shape[1], width = x.shape[2]
        var data: [Float] = []
        data.reserveCapacity(batch * width)
        for b in 0..<batch {
            let start = b * length * width
            data += x.data[start..<(start + width)]
        }
        return Tensor(shape: [batch, 1, width], data: data)
    }

    /// `x[:, :-1, :]`: the even-kernel trim of the positional convolution.
    static func droppingLastFrame(_ x: Tensor) -> Tensor {
        let batch = x.shape[0], length = x.shape[1], width = x.shape[2]
        var data: [Float] = []
        data.reserveCapacity(batch * (length - 1) * width)
        for b in 0..<batch {
            let start = b * length * width
            data += x.data[start..<(start + (length - 1) * width)]
        }
        return Tensor(shape: [batch, length - 1, width], data: data)
    }
}
