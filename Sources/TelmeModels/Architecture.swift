/// A tensor the architecture needs: its full name and exact shape.
public struct TensorSpec: Equatable, Hashable, Sendable {
    public var name: String
    public var shape: [Int]
    public init(_ name: String, _ shape: [Int]) {
        self.name = name
        self.shape = shape
    }
}

/// The exact set of tensors a TelME model has, by component, with the authors' state-dict
/// names prefixed by the component: `teacher.`, `audio.`, `video.`, `fusion.`.
///
/// The importer checks an HDF5 export against this list and the `.telme` reader checks a
/// file against it, so both refuse the same things.
public enum Architecture {
    /// Component prefixes in the `.telme` file (and groups in the HDF5 export).
    public static let teacherPrefix = "teacher."
    public static let audioPrefix = "audio."
    public static let videoPrefix = "video."
    public static let fusionPrefix = "fusion."

    /// Every tensor of the model, in a stable order.
    public static func tensorSpecs(for model: ModelDescription) -> [TensorSpec] {
        let classes = model.labels.count
        var specs = teacher(model.text, classes: classes).map { prefixed(teacherPrefix, $0) }
        if let audio = model.audio {
            specs += audioStudent(audio, classes: classes).map { prefixed(audioPrefix, $0) }
        }
        if let video = model.video {
            specs += videoStudent(video, classes: classes).map { prefixed(videoPrefix, $0) }
        }
        if let fusion = model.fusion, let audio = model.audio, let video = model.video {
            specs += asf(fusion, textDim: model.text.projectionDim, audioDim: audio.encoder.hiddenSize,
                         videoDim: video.encoder.hiddenSize, classes: classes).map { prefixed(fusionPrefix, $0) }
        }
        return specs
    }

    /// State-dict entries the authors' files hold that inference never uses; importers drop them.
    /// Names are relative to the component (as in the checkpoint file).
    public static func unusedCheckpointTensors(component: String) -> Set<String> {
        switch component {
        case "teacher": ["text_model.embeddings.position_ids", "text_model.pooler.dense.weight",
                         "text_model.pooler.dense.bias"]
        case "audio": ["model.masked_spec_embed"]
        default: []
        }
    }

    private static func prefixed(_ prefix: String, _ spec: TensorSpec) -> TensorSpec {
        TensorSpec(prefix + spec.name, spec.shape)
    }

    private static func linear(_ name: String, out: Int, in inDim: Int, bias: Bool = true) -> [TensorSpec] {
        var specs = [TensorSpec("\(name).weight", [out, inDim])]
        if bias { specs.append(TensorSpec("\(name).bias", [out])) }
        return specs
    }

    private static func layerNorm(_ name: String, _ dim: Int) -> [TensorSpec] {
        [TensorSpec("\(name).weight", [dim]), TensorSpec("\(name).bias", [dim])]
    }

    /// The names, below a layer's prefix, of the parts of a post-LayerNorm encoder layer: BERT's
    /// layer (attention, its residual and norm, the feed-forward pair, its residual and norm),
    /// which RoBERTa and data2vec-audio both have, under other names. The encoders fetch their
    /// layers' weights by these names too (`RobertaLayer`, `Data2VecAudio`).
    struct PostNormLayerNames {
        var query, key, value, attentionOutput, attentionNorm, intermediate, output, outputNorm: String

        /// Query, key and value, in the order their stacked product holds them.
        var queryKeyValue: [String] { [query, key, value] }

        static let roberta = PostNormLayerNames(
            query: "attention.self.query", key: "attention.self.key", value: "attention.self.value",
            attentionOutput: "attention.output.dense", attentionNorm: "attention.output.LayerNorm",
            intermediate: "intermediate.dense", output: "output.dense", outputNorm: "output.LayerNorm")

        static let data2Vec = PostNormLayerNames(
            query: "attention.q_proj", key: "attention.k_proj", value: "attention.v_proj",
            attentionOutput: "attention.out_proj", attentionNorm: "layer_norm",
            intermediate: "feed_forward.intermediate_dense", output: "feed_forward.output_dense",
            outputNorm: "final_layer_norm")
    }

    /// The tensors of one post-LayerNorm layer at `prefix`, in the checkpoint's order.
    private static func postNormLayer(_ prefix: String, _ names: PostNormLayerNames, hidden h: Int,
                                      intermediate: Int) -> [TensorSpec] {
        var specs: [TensorSpec] = []
        for projection in [names.query, names.key, names.value, names.attentionOutput] {
            specs += linear("\(prefix).\(projection)", out: h, in: h)
        }
        specs += layerNorm("\(prefix).\(names.attentionNorm)", h)
        specs += linear("\(prefix).\(names.intermediate)", out: intermediate, in: h)
        specs += linear("\(prefix).\(names.output)", out: h, in: intermediate)
        specs += layerNorm("\(prefix).\(names.outputNorm)", h)
        return specs
    }

    /// `text_model.*` (RoBERTa without pooler), `W`, `classifier`.
    public static func teacher(_ config: TextTeacherConfig, classes: Int) -> [TensorSpec] {
        let c = config.encoder
        let h = c.hiddenSize
        var specs = [
            TensorSpec("text_model.embeddings.word_embeddings.weight", [c.vocabSize, h]),
            TensorSpec("text_model.embeddings.position_embeddings.weight", [c.maxPositionEmbeddings, h]),
            TensorSpec("text_model.embeddings.token_type_embeddings.weight", [c.typeVocabSize, h]),
        ]
        specs += layerNorm("text_model.embeddings.LayerNorm", h)
        for i in 0..<c.numHiddenLayers {
            specs += postNormLayer("text_model.encoder.layer.\(i)", .roberta, hidden: h, intermediate: c.intermediateSize)
        }
        specs += linear("W", out: config.projectionDim, in: h)
        specs += linear("classifier", out: classes, in: config.projectionDim)
        return specs
    }

    /// `model.*` (data2vec-audio), `W`.
    public static func audioStudent(_ config: AudioStudentConfig, classes: Int) -> [TensorSpec] {
        let c = config.encoder
        let h = c.hiddenSize
        var specs: [TensorSpec] = []
        var inChannels = 1
        for (i, out) in c.convDim.enumerated() {
            let p = "model.feature_extractor.conv_layers.\(i)"
            specs.append(TensorSpec("\(p).conv.weight", [out, inChannels, c.convKernel[i]]))
            if c.convBias { specs.append(TensorSpec("\(p).conv.bias", [out])) }
            specs += layerNorm("\(p).layer_norm", out)
            inChannels = out
        }
        let features = c.convDim.last ?? 0
        specs += layerNorm("model.feature_projection.layer_norm", features)
        specs += linear("model.feature_projection.projection", out: h, in: features)
        for i in 0..<c.numConvPosEmbeddings {
            let p = "model.encoder.pos_conv_embed.layers.\(i).conv"
            specs.append(TensorSpec("\(p).weight", [h, h / max(c.numConvPosEmbeddingGroups, 1), c.convPosKernelSize]))
            specs.append(TensorSpec("\(p).bias", [h]))
        }
        specs += layerNorm("model.encoder.layer_norm", h)
        for i in 0..<c.numHiddenLayers {
            specs += postNormLayer("model.encoder.layers.\(i)", .data2Vec, hidden: h, intermediate: c.intermediateSize)
        }
        specs += linear("W", out: classes, in: h)
        return specs
    }

    /// `model.*` (TimeSformer), `W`.
    public static func videoStudent(_ config: VideoStudentConfig, classes: Int) -> [TensorSpec] {
        let c = config.encoder
        let h = c.hiddenSize
        let patches = (c.imageSize / max(c.patchSize, 1)) * (c.imageSize / max(c.patchSize, 1))
        var specs = [
            TensorSpec("model.embeddings.cls_token", [1, 1, h]),
            TensorSpec("model.embeddings.position_embeddings", [1, patches + 1, h]),
            TensorSpec("model.embeddings.time_embeddings", [1, c.numFrames, h]),
            TensorSpec("model.embeddings.patch_embeddings.projection.weight", [h, c.numChannels, c.patchSize, c.patchSize]),
            TensorSpec("model.embeddings.patch_embeddings.projection.bias", [h]),
        ]
        for i in 0..<c.numHiddenLayers {
            let p = "model.encoder.layer.\(i)"
            specs += layerNorm("\(p).layernorm_before", h)
            specs += linear("\(p).attention.attention.qkv", out: 3 * h, in: h, bias: c.qkvBias)
            specs += linear("\(p).attention.output.dense", out: h, in: h)
            specs += linear("\(p).intermediate.dense", out: c.intermediateSize, in: h)
            specs += linear("\(p).output.dense", out: h, in: c.intermediateSize)
            specs += layerNorm("\(p).layernorm_after", h)
            specs += layerNorm("\(p).temporal_layernorm", h)
            specs += linear("\(p).temporal_attention.attention.qkv", out: 3 * h, in: h, bias: c.qkvBias)
            specs += linear("\(p).temporal_attention.output.dense", out: h, in: h)
            specs += linear("\(p).temporal_dense", out: h, in: h)
        }
        specs += layerNorm("model.layernorm", h)
        specs += linear("W", out: classes, in: h)
        return specs
    }

    /// ASF: `multihead_attn` (PyTorch MultiheadAttention), `W_hav`, `W_av`, `LayerNorm`,
    /// `AV_LayerNorm`, `W`.
    public static func asf(_ config: FusionConfig, textDim: Int, audioDim: Int, videoDim: Int,
                           classes: Int) -> [TensorSpec] {
        let av = audioDim + videoDim
        var specs = [
            TensorSpec("multihead_attn.in_proj_weight", [3 * av, av]),
            TensorSpec("multihead_attn.in_proj_bias", [3 * av]),
        ]
        specs += linear("multihead_attn.out_proj", out: av, in: av)
        specs += linear("W_hav", out: textDim, in: av + textDim)
        specs += linear("W_av", out: textDim, in: av)
        specs += layerNorm("LayerNorm", textDim)
        specs += layerNorm("AV_LayerNorm", av)
        specs += linear("W", out: classes, in: textDim)
        return specs
    }
}
