import Testing
import TelmeModels
import TelmeTensor

/// TimeSformer / video student behaviour that needs no PyTorch reference: weight checks,
/// the CLS shortcut, batch independence, input validation.
@Suite struct VideoStudentTests {
    static let model = VideoTestModels.model()

    static func clip(batch: Int, seed: UInt64) -> Tensor {
        VideoTestModels.randomTensor(VideoTestModels.timesformer.inputShapeForTests(batch: batch), seed: seed, scale: 2)
    }

    @Test func fetchesExactlyTheArchitectureTensors() throws {
        let recording = RecordingWeights(VideoTestModels.randomWeights(Self.model))
        _ = try VideoStudent(model: Self.model, weights: recording)
        let expected = Set(Architecture.videoStudent(Self.model.video!, classes: Self.model.labels.count)
            .map { Architecture.videoPrefix + $0.name })
        #expect(recording.requested == expected)
    }

    @Test func qkvWithoutBiasNeedsNoBiasTensor() throws {
        var config = VideoTestModels.timesformer
        config.qkvBias = false
        let model = VideoTestModels.model(video: config)
        let recording = RecordingWeights(VideoTestModels.randomWeights(model))
        let student = try VideoStudent(model: model, weights: recording)
        #expect(!recording.requested.contains { $0.hasSuffix("qkv.bias") })
        let out = student(Self.clip(batch: 1, seed: 3))
        #expect(out.logits.data.allSatisfy { $0.isFinite })
    }

    @Test func clsShortcutEqualsFullPass() throws {
        let student = try VideoStudent(model: Self.model, weights: VideoTestModels.randomWeights(Self.model))
        let video = Self.clip(batch: 2, seed: 11)
        let full = student.encoder(video)
        #expect(full.shape == [2, 1 + 4 * 3, 12])
        let cls = student.encoder.cls(video)
        let expected = Ops.selectRows(full, [0, student.encoder.tokensPerClip])
        let difference = VideoTestMath.maxAbsDifference(cls.data, expected.data)
        print("CLS shortcut vs full pass:", difference)
        // Only the row counts of the last feed-forward's products differ: float rounding.
        #expect(difference < 2e-6)
        #expect(student(video).hidden.data == cls.data)
    }

    @Test func clipAnswerDoesNotDependOnBatchNeighbours() throws {
        let student = try VideoStudent(model: Self.model, weights: VideoTestModels.randomWeights(Self.model))
        let pair = Self.clip(batch: 2, seed: 21)
        let together = student(pair)
        let half = pair.count / 2
        let first = student(Tensor(shape: [1] + pair.shape.dropFirst(), data: Array(pair.data[..<half])))
        let second = student(Tensor(shape: [1] + pair.shape.dropFirst(), data: Array(pair.data[half...])))
        #expect(VideoTestMath.maxAbsDifference(together.logits.row(0), first.logits.data) < 1e-5)
        #expect(VideoTestMath.maxAbsDifference(together.logits.row(1), second.logits.data) < 1e-5)
    }

    @Test func frameOrderMatters() throws {
        // Time embeddings make the encoder see which frame is which.
        let student = try VideoStudent(model: Self.model, weights: VideoTestModels.randomWeights(Self.model))
        let video = Self.clip(batch: 1, seed: 31)
        let frame = video.count / 3
        let swapped = Tensor(shape: video.shape,
                             data: Array(video.data[frame..<(2 * frame)] + video.data[..<frame] + video.data[(2 * frame)...]))
        #expect(VideoTestMath.maxAbsDifference(student(video).hidden.data, student(swapped).hidden.data) > 1e-3)
    }

    @Test func emptyBatchGivesEmptyOutputs() throws {
        let student = try VideoStudent(model: Self.model, weights: VideoTestModels.randomWeights(Self.model))
        let empty = Tensor(zeros: [0, 3, 3, 8, 8])
        try student.validate(empty)
        let out = student(empty)
        #expect(out.hidden.shape == [0, 12])
        #expect(out.logits.shape == [0, 7])
    }

    @Test(arguments: [[1, 3, 3, 8], [1, 2, 3, 8, 8], [1, 3, 3, 8, 9], [2, 3, 1, 8, 8], [1, 3, 3, 16, 16]])
    func refusesMisshapenClips(shape: [Int]) throws {
        let student = try VideoStudent(model: Self.model, weights: VideoTestModels.randomWeights(Self.model))
        #expect(throws: VideoModelError.self) { try student.validate(Tensor(zeros: shape)) }
        do {
            try student.validate(Tensor(zeros: shape))
        } catch {
            #expect("\(error)".contains("\(shape)"))
        }
    }

    @Test func refusesMisshapenWeightNamingIt() throws {
        let weights = VideoTestModels.randomWeights(Self.model)
        weights.set("video.model.encoder.layer.1.temporal_dense.weight", shape: [12, 11],
                    values: [Float](repeating: 0, count: 132))
        #expect(throws: WeightError(name: "video.model.encoder.layer.1.temporal_dense.weight",
                                    expected: [12, 12], found: [12, 11])) {
            try VideoStudent(model: Self.model, weights: weights)
        }
    }

    @Test func refusesUnsupportedAttentionAndMissingStudent() throws {
        var config = VideoTestModels.timesformer
        config.attentionType = "joint_space_time"
        let joint = VideoTestModels.model(video: config)
        #expect(throws: VideoModelError.unsupportedConfig(field: "attention_type", value: "joint_space_time",
                                                          supported: "divided_space_time")) {
            try VideoStudent(model: joint, weights: VideoTestModels.randomWeights(joint))
        }
        var textOnly = Self.model
        textOnly.video = nil
        #expect(throws: VideoModelError.noVideoStudent) {
            try VideoStudent(model: textOnly, weights: ArrayWeights())
        }
    }
}

extension TimesformerConfig {
    func inputShapeForTests(batch: Int) -> [Int] { [batch, numFrames, numChannels, imageSize, imageSize] }
}
