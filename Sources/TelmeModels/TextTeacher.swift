import TelmeTensor

/// A text model whose description cannot be run (unsupported activation, inconsistent sizes).
public struct TextModelError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// The TelME teacher: a RoBERTa encoder, then `h_t = W(last_hidden_state[:, -1, :])` and
/// `logits = classifier(h_t)`.
///
/// Inputs are LEFT-padded so the last position is the `<mask>` token of every utterance.
/// Weights are `teacher.text_model.*`, `teacher.W.*`, `teacher.classifier.*` (see `Architecture`).
public final class TextTeacher: @unchecked Sendable {
    public let config: TextTeacherConfig
    public let classes: Int
    public let encoder: RobertaEncoder
    /// `W`: encoder width -> `projectionDim`.
    public let projection: Linear
    public let classifier: Linear
    /// Owns the memory the weight views point into.
    private let weights: any WeightSource

    public init(model: ModelDescription, weights: any WeightSource) throws {
        let prefix = Architecture.teacherPrefix
        config = model.text
        classes = model.labels.count
        guard classes > 0 else { throw TextModelError("the model has no labels") }
        self.weights = weights
        encoder = try RobertaEncoder(config: model.text.encoder, weights: weights, prefix: prefix + "text_model.")
        projection = try Linear(weights, prefix + "W", out: model.text.projectionDim, in: model.text.encoder.hiddenSize)
        classifier = try Linear(weights, prefix + "classifier", out: classes, in: model.text.projectionDim)
    }

    /// Checks a batch before it is run (see `RobertaEncoder.validate`).
    public func validate(inputIDs: [[Int]], attentionMask: [[Int]]) throws(RobertaInputError) {
        try encoder.validate(inputIDs: inputIDs, attentionMask: attentionMask)
    }

    /// Input ids left-padded, mask 1/0 (a valid batch: see `validate`); returns
    /// h_t `[B, projectionDim]` and logits `[B, classes]`.
    public func callAsFunction(inputIDs: [[Int]], attentionMask: [[Int]]) -> (hidden: Tensor, logits: Tensor) {
        let last = encoder.lastPosition(inputIDs: inputIDs, attentionMask: attentionMask)
        let hidden = projection(last)
        return (hidden, classifier(hidden))
    }
}
