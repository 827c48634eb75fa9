import TelmeTensor

/// TelME's audio student: a data2vec-audio encoder (`audio.model.*`) whose FIRST frame of
/// `last_hidden_state` is the utterance embedding `h_a`, and `W` (`audio.W.*`) to class logits.
public final class AudioStudent: Sendable {
    public let encoder: Data2VecAudio
    /// `W`: the classifier.
    let head: Linear

    /// Fetches and shape-checks every weight of the audio student; throws if `model.audio` is nil.
    public init(model: ModelDescription, weights: any WeightSource) throws {
        guard let audio = model.audio else { throw AudioModelError.noAudioStudent }
        let prefix = Architecture.audioPrefix
        encoder = try Data2VecAudio(config: audio.encoder, weights: weights, prefix: prefix + "model.")
        let classes = model.labels.count
        head = try Linear(weights, prefix + "W", out: classes, in: audio.encoder.hiddenSize, backend: headsBackend)
    }

    /// The fewest samples a clip needs (the conv feature extractor's receptive field).
    public var minimumSamples: Int { encoder.minimumSamples }

    /// `audio` is `batch x samples` (already normalised; the rows are equal-length clips, so
    /// any padding is part of them). Returns `h_a` (`batch x hidden`, frame 0 of each row) and
    /// the logits (`batch x classes`). Throws `AudioModelError.tooShort` for clips shorter
    /// than `minimumSamples` and `.inputShape` for anything but a 2-D tensor; an empty batch
    /// gives empty outputs.
    public func callAsFunction(_ audio: Tensor) throws -> (hidden: Tensor, logits: Tensor) {
        let first = try encoder(audio, firstFrameOnly: true)
        let hidden = first.reshaped([first.shape[0], first.shape[2]])
        return (hidden, head(hidden))
    }
}
