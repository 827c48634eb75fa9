import Testing
import TelmeModels
import TelmeTensor

/// ASF behaviour that needs no PyTorch reference: weight checks, batch semantics, the zero-h_m
/// rule, input validation.
@Suite struct FusionTests {
    static let model = VideoTestModels.model()

    /// Rows of h_t, h_a and h_v.
    struct Rows {
        var text: Tensor
        var audio: Tensor
        var video: Tensor

        /// Rows `range` of each.
        func rows(_ range: Range<Int>) -> Rows {
            Rows(text: VideoTestMath.rows(text, range), audio: VideoTestMath.rows(audio, range),
                 video: VideoTestMath.rows(video, range))
        }

        /// The fusion's logits for these rows.
        func fused(by fusion: Fusion, _ semantics: Settings.BatchSemantics,
                   _ order: Settings.FusionOrder = .audioVideo) -> Tensor {
            fusion(text: text, audio: audio, video: video, semantics: semantics, order: order)
        }
    }

    static func inputs(rows: Int, seed: UInt64) -> Rows {
        Rows(text: VideoTestModels.randomTensor([rows, 10], seed: seed, scale: 2),
             audio: VideoTestModels.randomTensor([rows, 12], seed: seed + 1, scale: 2),
             video: VideoTestModels.randomTensor([rows, 12], seed: seed + 2, scale: 2))
    }

    static func fusion(_ model: ModelDescription = model, weights: (any WeightSource)? = nil) throws -> Fusion {
        try Fusion(model: model, weights: weights ?? VideoTestModels.randomWeights(model))
    }

    @Test(arguments: ["meld", "iemocap"]) func fetchesExactlyTheArchitectureTensors(dataset: String) throws {
        let model = VideoTestModels.model(dataset: dataset)
        let recording = RecordingWeights(VideoTestModels.randomWeights(model))
        let fusion = try Fusion(model: model, weights: recording)
        let expected = Set(Architecture.asf(model.fusion!, textDim: 10, audioDim: 12, videoDim: 12,
                                            classes: model.labels.count).map { Architecture.fusionPrefix + $0.name })
        #expect(recording.requested == expected)
        #expect(fusion.config.numHeads == (dataset == "meld" ? 3 : 4))
    }

    @Test(arguments: Settings.FusionOrder.allCases) func independentRowsDoNotSeeEachOther(order: Settings.FusionOrder) throws {
        let fusion = try Self.fusion()
        let x = Self.inputs(rows: 5, seed: 40)
        let together = x.fused(by: fusion, .independent, order)
        #expect(together.shape == [5, 7])
        for r in 0..<5 {
            let one = x.rows(r..<(r + 1)).fused(by: fusion, .independent, order)
            #expect(VideoTestMath.maxAbsDifference(together.row(r), one.data) < 1e-5)
        }
    }

    @Test func officialBatchAttendsAcrossRows() throws {
        let fusion = try Self.fusion()
        let x = Self.inputs(rows: 4, seed: 50)
        let independent = x.fused(by: fusion, .independent)
        let official = x.fused(by: fusion, .officialBatch4)
        #expect(VideoTestMath.maxAbsDifference(independent.data, official.data) > 1e-3)
        // A batch of one is the same computation in both modes.
        let first = x.rows(0..<1)
        #expect(first.fused(by: fusion, .officialBatch4) == first.fused(by: fusion, .independent))
    }

    @Test func orderOfStudentsMatters() throws {
        let fusion = try Self.fusion()
        let x = Self.inputs(rows: 2, seed: 60)
        let audioFirst = x.fused(by: fusion, .independent, .audioVideo)
        let videoFirst = x.fused(by: fusion, .independent, .videoAudio)
        #expect(VideoTestMath.maxAbsDifference(audioFirst.data, videoFirst.data) > 1e-3)
        // Swapping the inputs and the order gives the same nv: identical logits.
        let swapped = Rows(text: x.text, audio: x.video, video: x.audio).fused(by: fusion, .independent, .videoAudio)
        #expect(swapped == audioFirst)
    }

    @Test func zeroShiftGivesLayerNormOfTextOnly() throws {
        // W_av = 0 makes h_m exactly 0; |h_m| == 0 counts as 1, so alpha is finite and the
        // logits are W(LayerNorm(h_t)) whatever the student inputs are.
        let weights = VideoTestModels.randomWeights(Self.model)
        weights.set("fusion.W_av.weight", shape: [10, 24], values: [Float](repeating: 0, count: 240))
        weights.set("fusion.W_av.bias", shape: [10], values: [Float](repeating: 0, count: 10))
        let fusion = try Self.fusion(weights: weights)
        let x = Self.inputs(rows: 3, seed: 70)
        let logits = x.fused(by: fusion, .officialBatch4)
        #expect(logits.data.allSatisfy { $0.isFinite })
        var normed = x.text
        Ops.layerNorm(&normed, weight: try weights.weight("fusion.LayerNorm.weight"),
                      bias: try weights.weight("fusion.LayerNorm.bias"), eps: 1e-5)
        let expected = Ops.linear(normed, weight: try weights.weight("fusion.W.weight"), bias: try weights.weight("fusion.W.bias"))
        #expect(VideoTestMath.maxAbsDifference(logits.data, expected.data) < 1e-6)
    }

    @Test func emptyBatchGivesEmptyLogits() throws {
        let fusion = try Self.fusion()
        let logits = Rows(text: Tensor(zeros: [0, 10]), audio: Tensor(zeros: [0, 12]), video: Tensor(zeros: [0, 12]))
            .fused(by: fusion, .officialBatch4)
        #expect(logits.shape == [0, 7])
    }

    @Test func refusesMismatchedInputs() throws {
        let fusion = try Self.fusion()
        let x = Self.inputs(rows: 2, seed: 80)
        #expect(throws: FusionError.badInputShape(input: "audio", found: [2, 11], expected: [2, 12])) {
            try fusion.validate(text: x.text, audio: Tensor(zeros: [2, 11]), video: x.video)
        }
        #expect(throws: FusionError.badInputShape(input: "video", found: [3, 12], expected: [2, 12])) {
            try fusion.validate(text: x.text, audio: x.audio, video: Tensor(zeros: [3, 12]))
        }
        try fusion.validate(text: x.text, audio: x.audio, video: x.video)
    }

    @Test func refusesModelsWithoutFusionAndBadHeads() throws {
        var noFusion = Self.model
        noFusion.fusion = nil
        #expect(throws: FusionError.noFusion) { try Fusion(model: noFusion, weights: ArrayWeights()) }
        var noAudio = Self.model
        noAudio.audio = nil
        #expect(throws: FusionError.noFusion) { try Fusion(model: noAudio, weights: ArrayWeights()) }
        var fiveHeads = Self.model
        fiveHeads.fusion?.numHeads = 5
        #expect(throws: FusionError.badHeads(heads: 5, width: 24)) {
            try Fusion(model: fiveHeads, weights: VideoTestModels.randomWeights(Self.model))
        }
    }

    @Test func refusesMisshapenWeightNamingIt() throws {
        let weights = VideoTestModels.randomWeights(Self.model)
        weights.set("fusion.multihead_attn.in_proj_weight", shape: [24, 24], values: [Float](repeating: 0, count: 576))
        #expect(throws: WeightError(name: "fusion.multihead_attn.in_proj_weight", expected: [72, 24], found: [24, 24])) {
            try Fusion(model: Self.model, weights: weights)
        }
    }
}
