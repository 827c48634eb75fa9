import TelmeTensor

/// The TelME video student: a TimeSformer encoder (`video.model.*`) whose CLS output `h_v` goes
/// through `video.W` to the class logits.
public final class VideoStudent {
    public let config: VideoStudentConfig
    public let encoder: Timesformer
    /// Keeps the memory of `head` alive.
    private let source: any WeightSource
    /// `W`: the classifier.
    let head: Linear

    /// Fetches and shape-checks every weight of the student. Throws if the model has no video
    /// student, if its config cannot run, or if a weight is missing or misshapen.
    public init(model: ModelDescription, weights: any WeightSource) throws {
        guard let config = model.video else { throw VideoModelError.noVideoStudent }
        self.config = config
        self.source = weights
        encoder = try Timesformer(config: config.encoder, weights: weights,
                                  prefix: Architecture.videoPrefix + "model.")
        let h = config.encoder.hiddenSize
        let classes = model.labels.count
        head = try Linear(weights, Architecture.videoPrefix + "W", out: classes, in: h, backend: headsBackend)
    }

    /// The clip shape the student takes for a batch of `batch` clips.
    public func inputShape(batch: Int) -> [Int] { encoder.inputShape(batch: batch) }

    /// Throws unless `video` is `[batch, frames, channels, imageSize, imageSize]` of the config.
    public func validate(_ video: Tensor) throws { try encoder.validate(video) }

    /// `video` is `[batch, frames, channels, H, W]`, already normalised (its shape must pass
    /// `validate`); returns `h_v` `[batch, hidden]` (the CLS row of `last_hidden_state`) and
    /// the logits `[batch, classes]`.
    public func callAsFunction(_ video: Tensor) -> (hidden: Tensor, logits: Tensor) {
        let hidden = encoder.cls(video)
        return (hidden, head(hidden))
    }
}
