import TelmeModels

/// The checks of a model description (the configs and settings a `.telme` header holds; a
/// corpus is checked by `telme validate`, not here): the rules a `ModelDescription` must meet
/// before its tensor list is computed: every size in range (so shape arithmetic cannot trap),
/// list lengths consistent, heads dividing widths. The writer and the reader apply the same
/// rules, so a file that was written can be read.
public enum ModelDescriptionCheck {
    /// Largest size, count or dimension a config may hold.
    public static let maxDimension = Int(Int32.max)
    /// Largest number of layers of one encoder (bounds the length of the tensor list).
    public static let maxLayers = 1024
    /// Largest number of labels.
    public static let maxLabels = 4096
    /// Audio sample rates a model may ask for (`telme annotate --sample-rate` allows the same).
    public static let sampleRates = 1000...384_000
    /// Largest audio input, in samples (the authors keep 400,000: 18 s at 22,050 Hz); bounds
    /// what one clip may allocate.
    public static let maxAudioSamples = 16 << 20
    /// Largest number of video frames per clip (the authors' TimeSformer takes 8).
    public static let maxFrames = 1024

    /// The first problem of `model`, described with its JSON key path, or nil when it is fine.
    public static func problem(in model: ModelDescription) -> String? {
        var checker = Checker()
        checker.check(model)
        return checker.problem
    }

    private struct Checker {
        var problem: String?

        mutating func fail(_ message: String) {
            if problem == nil { problem = message }
        }

        mutating func size(_ value: Int, _ key: String, min: Int = 1, max: Int = ModelDescriptionCheck.maxDimension) {
            if value < min || value > max { fail("\(key) is \(value), expected \(min)...\(max)") }
        }

        mutating func positive(_ value: Double, _ key: String) {
            if !(value.isFinite && value > 0) { fail("\(key) is \(value), expected a positive finite number") }
        }

        mutating func finite(_ value: Double, _ key: String) {
            if !value.isFinite { fail("\(key) is \(value), expected a finite number") }
        }

        mutating func divides(_ heads: Int, _ width: Int, _ key: String) {
            if heads > 0, width % heads != 0 { fail("\(key) \(heads) does not divide the width \(width)") }
        }

        /// The sizes of a transformer encoder's layers, at `prefix` (`text.encoder`).
        mutating func layers(_ prefix: String, hidden: Int, layers: Int, heads: Int, intermediate: Int) {
            size(hidden, "\(prefix).hidden_size")
            size(layers, "\(prefix).num_hidden_layers", min: 0, max: ModelDescriptionCheck.maxLayers)
            size(heads, "\(prefix).num_attention_heads")
            divides(heads, hidden, "\(prefix).num_attention_heads")
            size(intermediate, "\(prefix).intermediate_size")
        }

        mutating func check(_ model: ModelDescription) {
            if model.dataset.isEmpty { fail("dataset is empty") }
            size(model.labels.count, "labels count", max: ModelDescriptionCheck.maxLabels)
            if model.labels.contains(where: \.isEmpty) { fail("labels contain an empty name") }
            if Set(model.labels).count != model.labels.count { fail("labels contain a duplicate") }

            let text = model.text.encoder
            size(text.vocabSize, "text.encoder.vocab_size")
            layers("text.encoder", hidden: text.hiddenSize, layers: text.numHiddenLayers, heads: text.numAttentionHeads,
                   intermediate: text.intermediateSize)
            size(text.maxPositionEmbeddings, "text.encoder.max_position_embeddings")
            size(text.typeVocabSize, "text.encoder.type_vocab_size")
            positive(text.layerNormEps, "text.encoder.layer_norm_eps")
            size(text.padTokenId, "text.encoder.pad_token_id", min: 0, max: max(text.vocabSize, 1) - 1)
            size(model.text.projectionDim, "text.projection_dim")

            if let audio = model.audio?.encoder { check(audio) }
            if let video = model.video?.encoder { check(video) }
            if let fusion = model.fusion { check(fusion, model) }
            check(model.settings, model)
        }

        mutating func check(_ audio: Data2VecAudioConfig) {
            layers("audio.encoder", hidden: audio.hiddenSize, layers: audio.numHiddenLayers,
                   heads: audio.numAttentionHeads, intermediate: audio.intermediateSize)
            positive(audio.layerNormEps, "audio.encoder.layer_norm_eps")
            size(audio.convDim.count, "audio.encoder.conv_dim count", max: ModelDescriptionCheck.maxLayers)
            if audio.convKernel.count != audio.convDim.count || audio.convStride.count != audio.convDim.count {
                fail("audio.encoder.conv_dim, conv_kernel and conv_stride have different lengths "
                    + "(\(audio.convDim.count), \(audio.convKernel.count), \(audio.convStride.count))")
            }
            for (i, v) in audio.convDim.enumerated() { size(v, "audio.encoder.conv_dim[\(i)]") }
            for (i, v) in audio.convKernel.enumerated() { size(v, "audio.encoder.conv_kernel[\(i)]") }
            for (i, v) in audio.convStride.enumerated() { size(v, "audio.encoder.conv_stride[\(i)]") }
            size(audio.numConvPosEmbeddings, "audio.encoder.num_conv_pos_embeddings", min: 0,
                 max: ModelDescriptionCheck.maxLayers)
            size(audio.convPosKernelSize, "audio.encoder.conv_pos_kernel_size")
            size(audio.numConvPosEmbeddingGroups, "audio.encoder.num_conv_pos_embedding_groups")
            divides(audio.numConvPosEmbeddingGroups, audio.hiddenSize, "audio.encoder.num_conv_pos_embedding_groups")
        }

        mutating func check(_ video: TimesformerConfig) {
            size(video.patchSize, "video.encoder.patch_size")
            size(video.imageSize, "video.encoder.image_size", min: video.patchSize)
            size(video.numChannels, "video.encoder.num_channels")
            size(video.numFrames, "video.encoder.num_frames")
            layers("video.encoder", hidden: video.hiddenSize, layers: video.numHiddenLayers,
                   heads: video.numAttentionHeads, intermediate: video.intermediateSize)
            positive(video.layerNormEps, "video.encoder.layer_norm_eps")
        }

        mutating func check(_ fusion: FusionConfig, _ model: ModelDescription) {
            if let audio = model.audio?.encoder, let video = model.video?.encoder {
                size(fusion.numHeads, "fusion.num_heads")
                let (width, overflow) = audio.hiddenSize.addingReportingOverflow(video.hiddenSize)
                if !overflow { divides(fusion.numHeads, width, "fusion.num_heads") }
            } else {
                fail("fusion is present but the audio or video student is missing")
            }
            finite(fusion.betaShift, "fusion.beta_shift")
            positive(fusion.layerNormEps, "fusion.layer_norm_eps")
        }

        mutating func check(_ settings: Settings, _ model: ModelDescription) {
            let text = model.text.encoder
            size(settings.sampleRate, "settings.sample_rate", min: ModelDescriptionCheck.sampleRates.lowerBound,
                 max: ModelDescriptionCheck.sampleRates.upperBound)
            size(settings.maxAudioSamples, "settings.max_audio_samples", max: ModelDescriptionCheck.maxAudioSamples)
            size(settings.maxTextTokens, "settings.max_text_tokens")
            // The teacher's input (the last max_text_tokens tokens, <mask>) must fit the position
            // table: RoBERTa numbers positions from pad_token_id + 1.
            let (needed, overflow) = settings.maxTextTokens.addingReportingOverflow(2 + text.padTokenId)
            if overflow || text.maxPositionEmbeddings < needed {
                fail("text.encoder.max_position_embeddings is \(text.maxPositionEmbeddings), but inputs of "
                     + "settings.max_text_tokens + 1 = \(settings.maxTextTokens &+ 1) tokens need \(needed)")
            }
            size(settings.zeroAudioSamples, "settings.zero_audio_samples", min: 0, max: ModelDescriptionCheck.maxAudioSamples)
            size(settings.numFrames, "settings.num_frames", max: ModelDescriptionCheck.maxFrames)
            if let video = model.video?.encoder {
                if settings.numFrames != video.numFrames {
                    fail("settings.num_frames is \(settings.numFrames), but the video encoder takes "
                         + "video.encoder.num_frames = \(video.numFrames)")
                }
                if video.numChannels != 3 || settings.imageMean.count != 3 {
                    fail("video.encoder.num_channels is \(video.numChannels) and settings.image_mean has "
                         + "\(settings.imageMean.count) values; frames have 3 colour channels")
                }
            }
            if let seconds = settings.zeroMediaOverSeconds { positive(seconds, "settings.zero_media_over_seconds") }
            if !(settings.videoMarginSeconds.isFinite && settings.videoMarginSeconds >= 0) {
                fail("settings.video_margin_seconds is \(settings.videoMarginSeconds), expected a finite number >= 0")
            }
            if settings.imageMean.count != settings.imageStd.count {
                fail("settings.image_mean and image_std have different lengths "
                    + "(\(settings.imageMean.count), \(settings.imageStd.count))")
            }
            for (i, v) in settings.imageMean.enumerated() { finite(v, "settings.image_mean[\(i)]") }
            for (i, v) in settings.imageStd.enumerated() { positive(v, "settings.image_std[\(i)]") }
        }
    }
}
