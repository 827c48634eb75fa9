import Foundation
import Testing
import TelmeModels
import TelmeTensor
import TelmeTestSupport

/// Audio student behaviour that needs no PyTorch reference: the receptive field, short and
/// malformed inputs, the first-frame shortcut, batch independence, weight and config checks.
@Suite struct AudioStudentTests {
    /// The paper's conv stack (receptive field 400, hop 320) at a small width, with an even
    /// positional kernel so the trim is exercised too.
    static func encoder(posKernel: Int = 6, hiddenAct: String = "gelu", featAct: String = "gelu",
                        groups: Int = 4, convBias: Bool = true) -> Data2VecAudioConfig {
        Data2VecAudioConfig(hiddenSize: 24, numHiddenLayers: 2, numAttentionHeads: 3, intermediateSize: 40,
                            convDim: [8, 8, 8, 8, 8, 8, 12], convKernel: [10, 3, 3, 3, 3, 2, 2],
                            convStride: [5, 2, 2, 2, 2, 2, 2], convBias: convBias, numConvPosEmbeddings: 2,
                            convPosKernelSize: posKernel, numConvPosEmbeddingGroups: groups,
                            hiddenAct: hiddenAct, featExtractActivation: featAct)
    }

    static func model(_ encoder: Data2VecAudioConfig? = encoder()) -> ModelDescription {
        let text = RobertaConfig(vocabSize: 10, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2,
                                 intermediateSize: 8, maxPositionEmbeddings: 8)
        return ModelDescription(dataset: "meld", labels: ["a", "b", "c", "d"],
                                text: TextTeacherConfig(encoder: text, projectionDim: 8),
                                audio: encoder.map { AudioStudentConfig(encoder: $0) },
                                settings: .defaults(dataset: "meld"))
    }

    /// Every tensor the architecture lists for `model`, random (LayerNorm weights near 1).
    static func randomWeights(_ model: ModelDescription) -> ArrayWeights {
        var generator = SplitMix64(seed: 3)
        let weights = ArrayWeights()
        for spec in Architecture.tensorSpecs(for: model) {
            let centre: Float = spec.name.hasSuffix("norm.weight") ? 1 : 0
            let values = (0..<spec.shape.reduce(1, *)).map { _ in centre + Float.random(in: -0.3...0.3, using: &generator) }
            weights.set(spec.name, shape: spec.shape, values: values)
        }
        return weights
    }

    static func signal(_ samples: Int, phase: Float = 0) -> [Float] {
        (0..<samples).map { i in sin(Float(i) * 0.05 + phase) + 0.3 * sin(Float(i) * 0.31 + 2 * phase) }
    }

    static func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test func receptiveFieldIsTheShortestInput() throws {
        let student = try AudioStudent(model: Self.model(), weights: Self.randomWeights(Self.model()))
        #expect(student.minimumSamples == 400)
        #expect(student.encoder.frames(samples: 399) == 0)
        #expect(student.encoder.frames(samples: 400) == 1)
        #expect(student.encoder.frames(samples: 1412) == 4)
        #expect(student.encoder.frames(samples: 66150) == 206)

        #expect(throws: AudioModelError.tooShort(samples: 399, minimum: 400)) {
            try student(Tensor(shape: [1, 399], data: Self.signal(399)))
        }
        #expect(throws: AudioModelError.tooShort(samples: 0, minimum: 400)) {
            try student(Tensor(zeros: [2, 0]))
        }
        let one = try student(Tensor(shape: [1, 400], data: Self.signal(400)))
        #expect(one.hidden.shape == [1, 24])
        #expect(one.logits.shape == [1, 4])
        #expect(one.logits.data.allSatisfy { $0.isFinite })
        // The authors' zero audio: constant conv outputs, LayerNorm of constant rows.
        let zero = try student(Tensor(zeros: [1, 1412]))
        #expect(zero.logits.data.allSatisfy { $0.isFinite })
    }

    @Test func malformedInputsAreRefused() throws {
        let student = try AudioStudent(model: Self.model(), weights: Self.randomWeights(Self.model()))
        #expect(throws: AudioModelError.inputShape([1000])) { try student(Tensor(zeros: [1000])) }
        #expect(throws: AudioModelError.inputShape([1, 1, 1000])) { try student(Tensor(zeros: [1, 1, 1000])) }
        let empty = try student(Tensor(zeros: [0, 1000]))
        #expect(empty.hidden.shape == [0, 24])
        #expect(empty.logits.shape == [0, 4])
    }

    @Test(arguments: [400, 1412, 4001, 9999])
    func firstFrameShortcutEqualsFullPass(samples: Int) throws {
        let student = try AudioStudent(model: Self.model(), weights: Self.randomWeights(Self.model()))
        let audio = Tensor(shape: [2, samples], data: Self.signal(samples) + Self.signal(samples, phase: 1))
        let full = try student.encoder(audio)
        let frames = student.encoder.frames(samples: samples)
        #expect(full.shape == [2, frames, 24])
        let first = try student(audio).hidden
        let expected = Array(full.data[0..<24]) + Array(full.data[(frames * 24)..<(frames * 24 + 24)])
        // Only the row counts of the last layer's products differ: agreement to float rounding.
        #expect(Self.maxAbsDifference(first.data, expected) < 2e-6)
    }

    @Test func rowsOfABatchAreIndependent() throws {
        let student = try AudioStudent(model: Self.model(), weights: Self.randomWeights(Self.model()))
        let a = Self.signal(3000), b = Self.signal(3000, phase: 2)
        let together = try student(Tensor(shape: [2, 3000], data: a + b))
        let first = try student(Tensor(shape: [1, 3000], data: a))
        let second = try student(Tensor(shape: [1, 3000], data: b))
        #expect(Self.maxAbsDifference(together.logits.row(0), first.logits.data) < 1e-6)
        #expect(Self.maxAbsDifference(together.logits.row(1), second.logits.data) < 1e-6)
        #expect(Self.maxAbsDifference(first.logits.data, second.logits.data) > 1e-3)
    }

    @Test func oddPositionalKernelAndNoConvBias() throws {
        let model = Self.model(Self.encoder(posKernel: 5, convBias: false))
        let student = try AudioStudent(model: model, weights: Self.randomWeights(model))
        let out = try student(Tensor(shape: [1, 2000], data: Self.signal(2000)))
        #expect(out.logits.shape == [1, 4])
        #expect(out.logits.data.allSatisfy { $0.isFinite })
    }

    @Test func misshapenOrMissingWeightsAreNamed() throws {
        let model = Self.model()
        let weights = Self.randomWeights(model)
        let name = "audio.model.encoder.pos_conv_embed.layers.1.conv.weight"
        weights.set(name, shape: [24, 24, 6], values: [Float](repeating: 0, count: 24 * 24 * 6))
        #expect(throws: WeightError(name: name, expected: [24, 6, 6], found: [24, 24, 6])) {
            try AudioStudent(model: model, weights: weights)
        }
        let partial = ArrayWeights()
        #expect(throws: WeightError(name: "audio.model.feature_extractor.conv_layers.0.conv.weight")) {
            try AudioStudent(model: model, weights: partial)
        }
    }

    @Test func unusableConfigsAreRefused() throws {
        let weights = ArrayWeights()
        #expect(throws: AudioModelError.noAudioStudent) { try AudioStudent(model: Self.model(nil), weights: weights) }
        #expect(throws: AudioModelError.unsupportedActivation(field: "hidden_act", value: "relu")) {
            try AudioStudent(model: Self.model(Self.encoder(hiddenAct: "relu")), weights: weights)
        }
        #expect(throws: AudioModelError.unsupportedActivation(field: "feat_extract_activation", value: "gelu_new")) {
            try AudioStudent(model: Self.model(Self.encoder(featAct: "gelu_new")), weights: weights)
        }
        var ragged = Self.encoder()
        ragged.convStride.removeLast()
        #expect(throws: AudioModelError.self) { try AudioStudent(model: Self.model(ragged), weights: weights) }
        #expect(throws: AudioModelError.self) {
            try AudioStudent(model: Self.model(Self.encoder(groups: 5)), weights: weights)
        }
        let error = AudioModelError.tooShort(samples: 12, minimum: 400)
        #expect(error.description == "audio of 12 samples is shorter than the 400 samples the conv feature extractor needs for one frame")
    }
}
