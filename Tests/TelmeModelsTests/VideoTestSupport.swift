import Foundation
import TelmeModels
import TelmeTensor
import TelmeTestSupport

/// Small models and weights for the video and fusion tests that need no PyTorch reference.
enum VideoTestModels {
    /// Tiny encoders of every kind; widths differ so a mixed-up dimension shows.
    static func model(dataset: String = "meld", video: TimesformerConfig = timesformer) -> ModelDescription {
        let text = TextTeacherConfig(encoder: RobertaConfig(vocabSize: 20, hiddenSize: 8, numHiddenLayers: 1,
                                                            numAttentionHeads: 2, intermediateSize: 8,
                                                            maxPositionEmbeddings: 10),
                                     projectionDim: 10)
        let audio = AudioStudentConfig(encoder: Data2VecAudioConfig(
            hiddenSize: 12, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 8, convDim: [4],
            convKernel: [2], convStride: [2], numConvPosEmbeddings: 1, convPosKernelSize: 3,
            numConvPosEmbeddingGroups: 1))
        return ModelDescription(dataset: dataset, labels: ModelDescription.defaultLabels(dataset: dataset) ?? ["a", "b"],
                                text: text, audio: audio, video: VideoStudentConfig(encoder: video),
                                fusion: FusionConfig.defaults(dataset: dataset), settings: .defaults(dataset: dataset))
    }

    /// 3 frames of 3 x 8 x 8, patch 4 (2 x 2 patches per frame), hidden 12, 3 heads.
    static let timesformer = TimesformerConfig(imageSize: 8, patchSize: 4, numChannels: 3, numFrames: 3,
                                               hiddenSize: 12, numHiddenLayers: 2, numAttentionHeads: 3,
                                               intermediateSize: 20)

    /// Every tensor of `model` from a fixed-seed generator; LayerNorm weights near 1.
    static func randomWeights(_ model: ModelDescription, seed: UInt64 = 5) -> ArrayWeights {
        var generator = SplitMix64(seed: seed)
        let weights = ArrayWeights()
        for spec in Architecture.tensorSpecs(for: model) {
            let count = spec.shape.reduce(1, *)
            let isNormWeight = spec.name.lowercased().contains("layernorm") && spec.name.hasSuffix(".weight")
            let centre: Float = isNormWeight ? 1 : 0
            let values = (0..<count).map { _ in centre + Float.random(in: -0.5...0.5, using: &generator) }
            weights.set(spec.name, shape: spec.shape, values: values)
        }
        return weights
    }

    static func randomTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
        var generator = SplitMix64(seed: seed)
        let count = shape.reduce(1, *)
        return Tensor(shape: shape, data: (0..<count).map { _ in scale * Float.random(in: -1...1, using: &generator) })
    }
}

/// A weight source that remembers which names were asked for.
final class RecordingWeights: WeightSource, @unchecked Sendable {
    let base: any WeightSource
    private(set) var requested: Set<String> = []
    init(_ base: any WeightSource) { self.base = base }
    func weight(_ name: String) throws -> WeightView {
        requested.insert(name)
        return try base.weight(name)
    }
}

/// A weight source that serves some tensors from `overrides` and the rest from `base`.
final class OverridingWeights: WeightSource, @unchecked Sendable {
    let base: any WeightSource
    let overrides: ArrayWeights
    let names: Set<String>
    init(_ base: any WeightSource, overrides: ArrayWeights, names: Set<String>) {
        self.base = base
        self.overrides = overrides
        self.names = names
    }
    func weight(_ name: String) throws -> WeightView {
        names.contains(name) ? try overrides.weight(name) : try base.weight(name)
    }
}

enum VideoTestMath {
    static func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    /// Index of the largest value of every row.
    static func argmax(_ x: Tensor) -> [Int] {
        (0..<x.rows).map { r in
            let row = Array(x.row(r))
            return row.indices.max { row[$0] < row[$1] } ?? 0
        }
    }

    /// Rows `range` of a 2-D tensor.
    static func rows(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        Tensor(shape: [range.count, x.cols], data: Array(x.data[(range.lowerBound * x.cols)..<(range.upperBound * x.cols)]))
    }
}
