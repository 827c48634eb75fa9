import Testing
import TelmeModels
import TelmeTensor
import TelmeTestSupport

/// RoBERTa / teacher behaviour that needs no PyTorch reference: position ids, the
/// last-position shortcut, padding invariance, input validation, weight checks.
@Suite struct TextEncoderTests {
    static let encoder = RobertaConfig(vocabSize: 50, hiddenSize: 32, numHiddenLayers: 3, numAttentionHeads: 4,
                                       intermediateSize: 48, maxPositionEmbeddings: 20)
    static let model = ModelDescription(dataset: "meld", labels: ["a", "b", "c"],
                                        text: TextTeacherConfig(encoder: encoder, projectionDim: 16),
                                        settings: .defaults(dataset: "meld"))

    /// Every tensor of `model` filled from a fixed-seed generator (LayerNorm weights near 1).
    static func randomWeights(_ model: ModelDescription = model, seed: UInt64 = 7) -> ArrayWeights {
        var generator = SplitMix64(seed: seed)
        let weights = ArrayWeights()
        for spec in Architecture.tensorSpecs(for: model) {
            let count = spec.shape.reduce(1, *)
            let centre: Float = spec.name.hasSuffix("LayerNorm.weight") ? 1 : 0
            let values = (0..<count).map { _ in centre + Float.random(in: -0.5...0.5, using: &generator) }
            weights.set(spec.name, shape: spec.shape, values: values)
        }
        return weights
    }

    /// `ids` left-padded with the pad id (1) to `length`, and its mask.
    static func leftPadded(_ ids: [Int], to length: Int) -> ([Int], [Int]) {
        let pad = length - ids.count
        return ([Int](repeating: 1, count: pad) + ids, [Int](repeating: 0, count: pad) + ids.map { _ in 1 })
    }

    static func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test func positionIDsCountNonPadTokens() {
        #expect(RobertaEmbeddings.positionIDs([1, 1, 0, 7, 2], paddingIndex: 1) == [1, 1, 2, 3, 4])
        #expect(RobertaEmbeddings.positionIDs([5, 1, 6], paddingIndex: 1) == [2, 1, 3])
        #expect(RobertaEmbeddings.positionIDs([1, 1], paddingIndex: 1) == [1, 1])
    }

    /// The last layer computes only the last position; the numbers must not change at all
    /// (one row or several: the matrix products see different row counts).
    @Test(arguments: [1, 2]) func lastPositionShortcutEqualsFullPass(batch: Int) throws {
        let weights = Self.randomWeights()
        let encoder = try RobertaEncoder(config: Self.encoder, weights: weights, prefix: "teacher.text_model.")
        let rows = [Self.leftPadded([0, 5, 5, 49, 2, 3, 8, 11, 12], to: 9), Self.leftPadded([0, 9, 4, 33, 2, 12], to: 9)]
            .prefix(batch)
        let ids = rows.map(\.0), mask = rows.map(\.1)
        let full = encoder(inputIDs: ids, attentionMask: mask)
        let last = encoder.lastPosition(inputIDs: ids, attentionMask: mask)
        #expect(full.shape == [batch, 9, 32])
        #expect(last.shape == [batch, 32])
        #expect(last.data == Ops.selectRows(full, (0..<batch).map { $0 * 9 + 8 }).data)
    }

    @Test func answerDoesNotDependOnBatchNeighbours() throws {
        let teacher = try TextTeacher(model: Self.model, weights: Self.randomWeights())
        let utterance = [0, 17, 23, 4, 2, 9, 12]
        let alone = teacher(inputIDs: [utterance], attentionMask: [utterance.map { _ in 1 }])
        for neighbours in [[[0, 3, 2, 12]], [[0, 3, 4, 5, 6, 7, 8, 9, 10, 11, 2, 12], [0, 12]]] {
            let length = ([utterance] + neighbours).map(\.count).max()!
            let batch = ([utterance] + neighbours).map { Self.leftPadded($0, to: length) }
            let together = teacher(inputIDs: batch.map(\.0), attentionMask: batch.map(\.1))
            #expect(Self.maxAbsDifference(together.logits.row(0), alone.logits.row(0)) < 1e-5)
            #expect(Self.maxAbsDifference(together.hidden.row(0), alone.hidden.row(0)) < 1e-5)
        }
    }

    @Test func emptyBatchGivesEmptyOutputs() throws {
        let teacher = try TextTeacher(model: Self.model, weights: Self.randomWeights())
        let out = teacher(inputIDs: [], attentionMask: [])
        #expect(out.hidden.shape == [0, 16])
        #expect(out.logits.shape == [0, 3])
    }

    @Test(arguments: [
        ([[0, 2], [0]], [[1, 1], [1]], RobertaInputError.raggedBatch(row: 1, length: 1, expected: 2)),
        ([[0, 2]], [[1, 1], [1, 1]], RobertaInputError.maskShape(ids: [1, 2], mask: [2, 2])),
        ([[0, 2]], [[1, 2]], RobertaInputError.maskValue(row: 0, position: 1, value: 2)),
        ([[0, 2], [0, 50]], [[1, 1], [1, 1]], RobertaInputError.tokenOutOfRange(row: 1, position: 1, id: 50,
                                                                                 vocabularySize: 50)),
        ([[0, -1]], [[1, 1]], RobertaInputError.tokenOutOfRange(row: 0, position: 1, id: -1, vocabularySize: 50)),
        ([[Int](repeating: 4, count: 19)], [[Int](repeating: 1, count: 19)],
         RobertaInputError.tooLong(row: 0, tokens: 19, limit: 18)),
        ([[]], [[]], RobertaInputError.emptySequence),
    ] as [([[Int]], [[Int]], RobertaInputError)])
    func invalidInputIsRefused(ids: [[Int]], mask: [[Int]], error: RobertaInputError) throws {
        let teacher = try TextTeacher(model: Self.model, weights: Self.randomWeights())
        #expect(throws: error) { try teacher.validate(inputIDs: ids, attentionMask: mask) }
    }

    @Test func longestSequenceWithPaddingIsAccepted() throws {
        let teacher = try TextTeacher(model: Self.model, weights: Self.randomWeights())
        // 18 real tokens use positions 2...19 of 0..<20; padding before them does not count.
        let (ids, mask) = Self.leftPadded([Int](repeating: 4, count: 18), to: 25)
        try teacher.validate(inputIDs: [ids], attentionMask: [mask])
        #expect(teacher(inputIDs: [ids], attentionMask: [mask]).logits.shape == [1, 3])
    }

    @Test func missingOrMisshapenWeightIsNamed() throws {
        let weights = Self.randomWeights()
        weights.set("teacher.text_model.encoder.layer.2.intermediate.dense.weight", shape: [32, 48],
                    values: [Float](repeating: 0, count: 32 * 48))
        #expect(throws: WeightError(name: "teacher.text_model.encoder.layer.2.intermediate.dense.weight",
                                    expected: [48, 32], found: [32, 48])) {
            try TextTeacher(model: Self.model, weights: weights)
        }
        var bigger = Self.model
        bigger.text.encoder.numHiddenLayers = 4
        #expect(throws: WeightError(name: "teacher.text_model.encoder.layer.3.attention.self.query.weight")) {
            try TextTeacher(model: bigger, weights: Self.randomWeights())
        }
    }

    @Test func unsupportedConfigIsRefused() throws {
        var model = Self.model
        model.text.encoder.hiddenAct = "relu"
        #expect(throws: TextModelError.self) { try TextTeacher(model: model, weights: Self.randomWeights()) }
        model = Self.model
        model.text.encoder.numAttentionHeads = 5
        #expect(throws: TextModelError.self) { try TextTeacher(model: model, weights: Self.randomWeights()) }
    }
}
