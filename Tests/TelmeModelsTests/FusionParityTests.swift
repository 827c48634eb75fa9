import Foundation
import Testing
import TelmeHDF5
import TelmeModels
import TelmeTensor

/// ASF against PyTorch on the committed tiny models (MELD: 3 heads, beta 0.1; IEMOCAP: 4 heads,
/// 0.2): `model.h5` -> real converter -> `.telme` -> `TelmeFile` -> `Fusion`, compared with
/// `fusion_cases.h5` (Tools/fixtures/models/fusion.py) in both batch semantics and both
/// orders of the students.
///
/// Measured max abs error (OpenBLAS, x86-64, both datasets, every case and mode): 4.8e-7. The
/// tolerance leaves a margin for other BLAS kernels while staying far below 1e-4.
@Suite struct FusionParityTests {
    static let tolerance: Float = 5e-6
    static let orders: [(Settings.FusionOrder, String)] = [(.audioVideo, "audio_video"), (.videoAudio, "video_audio")]

    /// The file's weights, except W_av (weight and bias) replaced by zeros: h_m == 0.
    static func zeroShiftWeights(_ model: ParityModel) throws -> any WeightSource {
        let zeros = ArrayWeights()
        let names: Set<String> = ["fusion.W_av.weight", "fusion.W_av.bias"]
        for name in names {
            let shape = try model.file.weight(name).shape
            zeros.set(name, shape: shape, values: [Float](repeating: 0, count: shape.reduce(1, *)))
        }
        return OverridingWeights(model.file, overrides: zeros, names: names)
    }

    @Test(arguments: ["meld", "iemocap"], Backend.allCases) func fusionMatchesPyTorch(dataset: String, backend: Backend) throws {
        try Compute.with(backend: backend) {
            let model = try ParityModel(dataset: dataset)
            let expectedFusion = try #require(FusionConfig.defaults(dataset: dataset))
            #expect(model.file.model.fusion == expectedFusion)
            let fusion = try Fusion(model: model.file.model, weights: model.file)
            let zeroShift = try Fusion(model: model.file.model, weights: Self.zeroShiftWeights(model))
            let (h5, names) = try model.cases("fusion_cases.h5")
            #expect(names == ["random", "students", "relu_zero", "zero_w_av"])
            let batch = Int(try #require(try h5.int64Attribute("official_batch")))
            #expect(batch == 4)
            var worst: Float = 0
            for name in names {
                let asf = name == "zero_w_av" ? zeroShift : fusion
                let text = try h5.tensor("\(name)/text")
                let audio = try h5.tensor("\(name)/audio")
                let video = try h5.tensor("\(name)/video")
                try asf.validate(text: text, audio: audio, video: video)
                let rows = text.rows
                for (order, key) in Self.orders {
                    // Independent: all rows in one call; each still attends over itself only.
                    let independent = asf(text: text, audio: audio, video: video, semantics: .independent, order: order)
                    // Official: the rows in consecutive batches of 4, the last one partial.
                    var official: [Float] = []
                    for start in stride(from: 0, to: rows, by: batch) {
                        let range = start..<min(start + batch, rows)
                        official += asf(text: VideoTestMath.rows(text, range), audio: VideoTestMath.rows(audio, range),
                                        video: VideoTestMath.rows(video, range), semantics: .officialBatch4,
                                        order: order).data
                    }
                    for (mode, got) in [("independent", independent.data), ("official", official)] {
                        let expected = try h5.tensor("\(name)/\(mode)_\(key)")
                        let gotTensor = Tensor(shape: expected.shape, data: got)
                        #expect(got.count == expected.count, "\(name)/\(mode)_\(key)")
                        #expect(got.allSatisfy { $0.isFinite }, "\(name)/\(mode)_\(key)")
                        let error = VideoTestMath.maxAbsDifference(got, expected.data)
                        print("fusion parity \(dataset)/\(name) \(mode) \(key) (\(rows) rows): max abs error \(error)")
                        #expect(error <= Self.tolerance, "\(dataset)/\(name)/\(mode)_\(key)")
                        #expect(VideoTestMath.argmax(gotTensor) == VideoTestMath.argmax(expected), "\(dataset)/\(name)/\(mode)_\(key)")
                        worst = max(worst, error)
                    }
                }
            }
            print("fusion parity \(dataset) worst: \(worst)")
        }
    }

    /// The fixture really exercises the modes: official batches differ from independent rows,
    /// and the two orders differ (so the test above cannot pass by mixing them up).
    @Test(arguments: ["meld", "iemocap"]) func fixtureModesDiffer(dataset: String) throws {
        let model = try ParityModel(dataset: dataset)
        let (h5, _) = try model.cases("fusion_cases.h5")
        let independent = try h5.tensor("random/independent_audio_video")
        let official = try h5.tensor("random/official_audio_video")
        let swapped = try h5.tensor("random/independent_video_audio")
        #expect(VideoTestMath.maxAbsDifference(independent.data, official.data) > 1e-3)
        #expect(VideoTestMath.maxAbsDifference(independent.data, swapped.data) > 1e-3)
    }
}
