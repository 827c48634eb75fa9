import TelmeModels

/// The encoder configs the models support, read from HF `config.json` fields. Omitted fields
/// take the defaults of the transformers 4.27.2 config classes (`RobertaConfig`,
/// `Data2VecAudioConfig`, `TimesformerConfig`); values the models do not implement are refused
/// naming the field.
extension HFConfig {
    /// `RobertaConfig`; `vocabRows` comes from the embedding tensor, not from `vocab_size`
    /// (the authors resized the embeddings after adding the speaker tokens).
    func roberta(vocabRows: Int) throws -> RobertaConfig {
        _ = try choice("model_type", default: "roberta", supported: ["roberta"])
        _ = try choice("position_embedding_type", default: "absolute", supported: ["absolute"])
        try require("is_decoder", equals: false)
        try require("add_cross_attention", equals: false)
        return RobertaConfig(
            vocabSize: vocabRows,
            hiddenSize: try int("hidden_size", default: 768),
            numHiddenLayers: try int("num_hidden_layers", default: 12),
            numAttentionHeads: try int("num_attention_heads", default: 12),
            intermediateSize: try int("intermediate_size", default: 3072),
            maxPositionEmbeddings: try int("max_position_embeddings", default: 512),
            typeVocabSize: try int("type_vocab_size", default: 2),
            layerNormEps: try double("layer_norm_eps", default: 1e-12),
            padTokenId: try int("pad_token_id", default: 1),
            hiddenAct: try choice("hidden_act", default: "gelu", supported: ["gelu"]))
    }

    /// `Data2VecAudioConfig`.
    func data2vecAudio() throws -> Data2VecAudioConfig {
        _ = try choice("model_type", default: "data2vec-audio", supported: ["data2vec-audio"])
        try require("add_adapter", equals: false)
        let convDim = try ints("conv_dim", default: [512, 512, 512, 512, 512, 512, 512])
        let convKernel = try ints("conv_kernel", default: [10, 3, 3, 3, 3, 2, 2])
        let convStride = try ints("conv_stride", default: [5, 2, 2, 2, 2, 2, 2])
        guard convKernel.count == convDim.count else {
            throw fail("conv_kernel", "has \(convKernel.count) entries but conv_dim has \(convDim.count)")
        }
        guard convStride.count == convDim.count else {
            throw fail("conv_stride", "has \(convStride.count) entries but conv_dim has \(convDim.count)")
        }
        return Data2VecAudioConfig(
            hiddenSize: try int("hidden_size", default: 768),
            numHiddenLayers: try int("num_hidden_layers", default: 12),
            numAttentionHeads: try int("num_attention_heads", default: 12),
            intermediateSize: try int("intermediate_size", default: 3072),
            layerNormEps: try double("layer_norm_eps", default: 1e-5),
            convDim: convDim, convKernel: convKernel, convStride: convStride,
            convBias: try bool("conv_bias", default: false),
            numConvPosEmbeddings: try int("num_conv_pos_embeddings", default: 5),
            convPosKernelSize: try int("conv_pos_kernel_size", default: 19),
            numConvPosEmbeddingGroups: try int("num_conv_pos_embedding_groups", default: 16),
            hiddenAct: try choice("hidden_act", default: "gelu", supported: ["gelu"]),
            featExtractActivation: try choice("feat_extract_activation", default: "gelu", supported: ["gelu"]))
    }

    /// `TimesformerConfig`.
    func timesformer() throws -> TimesformerConfig {
        _ = try choice("model_type", default: "timesformer", supported: ["timesformer"])
        return TimesformerConfig(
            imageSize: try int("image_size", default: 224),
            patchSize: try int("patch_size", default: 16),
            numChannels: try int("num_channels", default: 3),
            numFrames: try int("num_frames", default: 8),
            hiddenSize: try int("hidden_size", default: 768),
            numHiddenLayers: try int("num_hidden_layers", default: 12),
            numAttentionHeads: try int("num_attention_heads", default: 12),
            intermediateSize: try int("intermediate_size", default: 3072),
            layerNormEps: try double("layer_norm_eps", default: 1e-6),
            qkvBias: try bool("qkv_bias", default: true),
            attentionType: try choice("attention_type", default: "divided_space_time", supported: ["divided_space_time"]),
            hiddenAct: try choice("hidden_act", default: "gelu", supported: ["gelu"]))
    }
}
