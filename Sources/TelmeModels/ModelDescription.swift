/// Everything about a TelME model except its weights: the encoders' configs, the heads, the
/// labels and every preprocessing setting the reference lets vary.
///
/// It is stored as JSON in the `.telme` header (see `Schemas/telme-format.md`), so every field
/// name here is part of the file format. Encoders other than the text teacher are optional: a
/// teacher-only model is a valid text-only model.
public struct ModelDescription: Codable, Equatable, Sendable {
    /// `meld`, `iemocap` or any other name; decides the defaults of `Settings`.
    public var dataset: String
    /// Class names in class-index order.
    public var labels: [String]
    public var text: TextTeacherConfig
    public var audio: AudioStudentConfig?
    public var video: VideoStudentConfig?
    public var fusion: FusionConfig?
    public var settings: Settings

    public init(dataset: String, labels: [String], text: TextTeacherConfig,
                audio: AudioStudentConfig? = nil, video: VideoStudentConfig? = nil,
                fusion: FusionConfig? = nil, settings: Settings) {
        self.dataset = dataset
        self.labels = labels
        self.text = text
        self.audio = audio
        self.video = video
        self.fusion = fusion
        self.settings = settings
    }

    /// Labels of the authors' datasets, in class-index order.
    public static func defaultLabels(dataset: String) -> [String]? {
        switch dataset {
        case "meld": ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise"]
        case "iemocap": ["ang", "exc", "fru", "hap", "neu", "sad"]
        default: nil
        }
    }
}

/// RoBERTa-style encoder, as in its HF `config.json`.
public struct RobertaConfig: Codable, Equatable, Sendable {
    public var vocabSize: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var maxPositionEmbeddings: Int
    public var typeVocabSize: Int
    public var layerNormEps: Double
    public var padTokenId: Int
    /// Only `gelu` (exact, erf) is supported; recorded so a file says what it needs.
    public var hiddenAct: String

    public init(vocabSize: Int, hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int,
                intermediateSize: Int, maxPositionEmbeddings: Int, typeVocabSize: Int = 1,
                layerNormEps: Double = 1e-5, padTokenId: Int = 1, hiddenAct: String = "gelu") {
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.typeVocabSize = typeVocabSize
        self.layerNormEps = layerNormEps
        self.padTokenId = padTokenId
        self.hiddenAct = hiddenAct
    }
}

/// The teacher: `text_model` (RoBERTa), `W` (hidden -> projectionDim), `classifier`.
public struct TextTeacherConfig: Codable, Equatable, Sendable {
    public var encoder: RobertaConfig
    /// Output width of `W` (768 in the authors' models); the fusion's text width.
    public var projectionDim: Int

    public init(encoder: RobertaConfig, projectionDim: Int = 768) {
        self.encoder = encoder
        self.projectionDim = projectionDim
    }
}

/// data2vec-audio encoder, as in its HF `config.json`.
public struct Data2VecAudioConfig: Codable, Equatable, Sendable {
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var layerNormEps: Double
    public var convDim: [Int]
    public var convKernel: [Int]
    public var convStride: [Int]
    public var convBias: Bool
    /// Number of positional conv layers (HF `num_conv_pos_embeddings`).
    public var numConvPosEmbeddings: Int
    public var convPosKernelSize: Int
    public var numConvPosEmbeddingGroups: Int
    public var hiddenAct: String
    public var featExtractActivation: String

    public init(hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                layerNormEps: Double = 1e-5, convDim: [Int], convKernel: [Int], convStride: [Int],
                convBias: Bool = true, numConvPosEmbeddings: Int = 5, convPosKernelSize: Int = 19,
                numConvPosEmbeddingGroups: Int = 16, hiddenAct: String = "gelu",
                featExtractActivation: String = "gelu") {
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.layerNormEps = layerNormEps
        self.convDim = convDim
        self.convKernel = convKernel
        self.convStride = convStride
        self.convBias = convBias
        self.numConvPosEmbeddings = numConvPosEmbeddings
        self.convPosKernelSize = convPosKernelSize
        self.numConvPosEmbeddingGroups = numConvPosEmbeddingGroups
        self.hiddenAct = hiddenAct
        self.featExtractActivation = featExtractActivation
    }
}

/// The audio student: `model` (data2vec-audio), `W` (hidden -> classes).
public struct AudioStudentConfig: Codable, Equatable, Sendable {
    public var encoder: Data2VecAudioConfig
    public init(encoder: Data2VecAudioConfig) { self.encoder = encoder }
}

/// TimeSformer encoder, as in its HF `config.json`.
public struct TimesformerConfig: Codable, Equatable, Sendable {
    public var imageSize: Int
    public var patchSize: Int
    public var numChannels: Int
    public var numFrames: Int
    public var hiddenSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var intermediateSize: Int
    public var layerNormEps: Double
    public var qkvBias: Bool
    /// Only `divided_space_time` is supported.
    public var attentionType: String
    public var hiddenAct: String

    public init(imageSize: Int = 224, patchSize: Int = 16, numChannels: Int = 3, numFrames: Int = 8,
                hiddenSize: Int, numHiddenLayers: Int, numAttentionHeads: Int, intermediateSize: Int,
                layerNormEps: Double = 1e-6, qkvBias: Bool = true,
                attentionType: String = "divided_space_time", hiddenAct: String = "gelu") {
        self.imageSize = imageSize
        self.patchSize = patchSize
        self.numChannels = numChannels
        self.numFrames = numFrames
        self.hiddenSize = hiddenSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.intermediateSize = intermediateSize
        self.layerNormEps = layerNormEps
        self.qkvBias = qkvBias
        self.attentionType = attentionType
        self.hiddenAct = hiddenAct
    }
}

/// The video student: `model` (TimeSformer), `W` (hidden -> classes).
public struct VideoStudentConfig: Codable, Equatable, Sendable {
    public var encoder: TimesformerConfig
    public init(encoder: TimesformerConfig) { self.encoder = encoder }
}

/// ASF: the attention-based modality shifting fusion. Widths follow the encoders:
/// text = teacher projectionDim, audio/video = the students' hidden sizes.
public struct FusionConfig: Codable, Equatable, Sendable {
    /// Heads of `multihead_attn` (MELD 3, IEMOCAP 4).
    public var numHeads: Int
    /// MELD 0.1, IEMOCAP 0.2.
    public var betaShift: Double
    /// LayerNorm eps of `AV_LayerNorm` and `LayerNorm` (torch default 1e-5).
    public var layerNormEps: Double

    public init(numHeads: Int, betaShift: Double, layerNormEps: Double = 1e-5) {
        self.numHeads = numHeads
        self.betaShift = betaShift
        self.layerNormEps = layerNormEps
    }
}

/// Preprocessing and inference settings: every behaviour of the reference that varies
/// between datasets or that reproduces a quirk. Each can be overridden on `telme annotate`.
public struct Settings: Codable, Equatable, Sendable {
    /// How speaker tokens are numbered in the teacher's prompt.
    public enum SpeakerNumbering: String, Codable, Sendable, CaseIterable {
        /// The authors' code: the list is emptied one utterance late (see the reference).
        case official
        /// Plain numbering, restarting at every dialogue.
        case dialogue
    }

    /// Order of the student embeddings in ASF's `concat`.
    public enum FusionOrder: String, Codable, Sendable, CaseIterable {
        /// `ASF(h_t, h_a, h_v)`: training and MELD inference.
        case audioVideo = "audio-video"
        /// `ASF(h_t, h_v, h_a)`: the authors' IEMOCAP inference script.
        case videoAudio = "video-audio"
    }

    /// Channel order of the frames given to the video student.
    public enum ChannelOrder: String, Codable, Sendable, CaseIterable {
        /// OpenCV's order, which the checkpoints were trained on.
        case bgr
        case rgb
    }

    /// What the batch members of ASF's attention and of audio padding are.
    public enum BatchSemantics: String, Codable, Sendable, CaseIterable {
        /// Every utterance alone: labels never depend on the corpus order.
        case independent
        /// The authors' batches of 4 in corpus order.
        case officialBatch4 = "official-batch4"
    }

    /// What an utterance gets when one of its media is missing or unreadable.
    public enum MissingMedia: String, Codable, Sendable, CaseIterable {
        /// The teacher's prediction alone; the record says text-only.
        case textOnly = "text-only"
        /// The authors' zero input for that modality (as for clips over 30 s), then the fusion.
        case zero
    }

    public var speakerNumbering: SpeakerNumbering
    public var fusionOrder: FusionOrder
    public var channelOrder: ChannelOrder
    public var batchSemantics: BatchSemantics
    /// Audio is resampled to this rate (22050 in the authors' pipeline, although the model
    /// was pretrained at 16 kHz).
    public var sampleRate: Int
    /// Only the last this-many audio samples are kept.
    public var maxAudioSamples: Int
    /// Teacher input: the last this-many tokens, then `<mask>`.
    public var maxTextTokens: Int
    /// MELD: clips longer than this many seconds get zero audio and video; nil disables it.
    public var zeroMediaOverSeconds: Double?
    /// Length of the zero audio used by that rule (1412 samples in the authors' code).
    public var zeroAudioSamples: Int
    /// Frames given to the video student.
    public var numFrames: Int
    /// IEMOCAP: seconds of video taken before the start and after the end of an utterance.
    public var videoMarginSeconds: Double
    public var imageMean: [Double]
    public var imageStd: [Double]
    public var missingMedia: MissingMedia

    public init(speakerNumbering: SpeakerNumbering = .official, fusionOrder: FusionOrder = .audioVideo,
                channelOrder: ChannelOrder = .bgr, batchSemantics: BatchSemantics = .independent,
                sampleRate: Int = 22050, maxAudioSamples: Int = 400_000, maxTextTokens: Int = 511,
                zeroMediaOverSeconds: Double? = nil, zeroAudioSamples: Int = 1412, numFrames: Int = 8,
                videoMarginSeconds: Double = 0,
                imageMean: [Double] = [0.485, 0.456, 0.406], imageStd: [Double] = [0.229, 0.224, 0.225],
                missingMedia: MissingMedia = .textOnly) {
        self.speakerNumbering = speakerNumbering
        self.fusionOrder = fusionOrder
        self.channelOrder = channelOrder
        self.batchSemantics = batchSemantics
        self.sampleRate = sampleRate
        self.maxAudioSamples = maxAudioSamples
        self.maxTextTokens = maxTextTokens
        self.zeroMediaOverSeconds = zeroMediaOverSeconds
        self.zeroAudioSamples = zeroAudioSamples
        self.numFrames = numFrames
        self.videoMarginSeconds = videoMarginSeconds
        self.imageMean = imageMean
        self.imageStd = imageStd
        self.missingMedia = missingMedia
    }

    /// The authors' settings for their datasets (see `TELME_REFERENCE.md`).
    public static func defaults(dataset: String) -> Settings {
        switch dataset {
        case "meld": Settings(zeroMediaOverSeconds: 30)
        case "iemocap": Settings(videoMarginSeconds: 1)
        default: Settings()
        }
    }
}

extension Settings {
    private enum CodingKeys: String, CodingKey {
        case speakerNumbering, fusionOrder, channelOrder, batchSemantics, sampleRate, maxAudioSamples,
             maxTextTokens, zeroMediaOverSeconds, zeroAudioSamples, numFrames, videoMarginSeconds, imageMean,
             imageStd, missingMedia
    }

    /// Decodes settings; a key that a file written before the setting existed lacks takes the
    /// default of `Settings()`, so older files keep their meaning.
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = Settings()
        func value<T: Decodable>(_ key: CodingKeys, else fallback: T) throws -> T {
            try c.decodeIfPresent(T.self, forKey: key) ?? fallback
        }
        self.init(
            speakerNumbering: try value(.speakerNumbering, else: d.speakerNumbering),
            fusionOrder: try value(.fusionOrder, else: d.fusionOrder),
            channelOrder: try value(.channelOrder, else: d.channelOrder),
            batchSemantics: try value(.batchSemantics, else: d.batchSemantics),
            sampleRate: try value(.sampleRate, else: d.sampleRate),
            maxAudioSamples: try value(.maxAudioSamples, else: d.maxAudioSamples),
            maxTextTokens: try value(.maxTextTokens, else: d.maxTextTokens),
            zeroMediaOverSeconds: try c.decodeIfPresent(Double.self, forKey: .zeroMediaOverSeconds),
            zeroAudioSamples: try value(.zeroAudioSamples, else: d.zeroAudioSamples),
            numFrames: try value(.numFrames, else: d.numFrames),
            videoMarginSeconds: try value(.videoMarginSeconds, else: d.videoMarginSeconds),
            imageMean: try value(.imageMean, else: d.imageMean),
            imageStd: try value(.imageStd, else: d.imageStd),
            missingMedia: try value(.missingMedia, else: d.missingMedia))
    }
}

extension FusionConfig {
    /// The authors' ASF settings for their datasets.
    public static func defaults(dataset: String) -> FusionConfig? {
        switch dataset {
        case "meld": FusionConfig(numHeads: 3, betaShift: 0.1)
        case "iemocap": FusionConfig(numHeads: 4, betaShift: 0.2)
        default: nil
        }
    }
}
