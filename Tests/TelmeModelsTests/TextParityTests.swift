import Foundation
import Testing
import TelmeFormat
import TelmeHDF5
import TelmeImport
import TelmeModels
import TelmeTensor

/// The teacher against PyTorch on the committed tiny models: `model.h5` (made by the real
/// exporter) -> the real converter -> `.telme` -> `TelmeFile` -> `TextTeacher`, compared with
/// `text_cases.h5` (Tools/fixtures/models/text.py).
///
/// Measured max abs error (OpenBLAS 0.3, x86-64, both datasets, every case): 4.2e-7 on h_t,
/// 3.6e-7 on logits, 1.2e-6 on the whole last_hidden_state; the tolerance leaves a margin for
/// other BLAS kernels while staying far below 1e-4.
@Suite struct TextParityTests {
    static let tolerance: Float = 5e-6

    struct Case {
        var name: String
        var ids: [[Int]]
        var mask: [[Int]]
        var hidden: (shape: [Int], values: [Float])
        var logits: (shape: [Int], values: [Float])
        var lastHidden: (shape: [Int], values: [Float])
    }

    /// A tiny model converted and opened, its teacher, and its text cases.
    final class Fixture {
        let teacher: TextTeacher
        let cases: [Case]

        init(dataset: String) throws {
            let model = try ParityModel(dataset: dataset)
            teacher = try TextTeacher(model: model.file.model, weights: model.file)
            cases = try Self.readCases(model.folder.appendingPathComponent("text_cases.h5"))
        }

        static func readCases(_ url: URL) throws -> [Case] {
            let h5 = try HDF5File(readingAt: url)
            let names = try #require(try h5.stringAttribute("cases")).split(separator: ",").map(String.init)
            return try names.map { name in
                Case(name: name, ids: try matrix(h5.readInt64s("\(name)/input_ids")),
                     mask: try matrix(h5.readInt64s("\(name)/attention_mask")),
                     hidden: try h5.readFloats("\(name)/text_hidden"), logits: try h5.readFloats("\(name)/text_logits"),
                     lastHidden: try h5.readFloats("\(name)/text_last_hidden"))
            }
        }

        static func matrix(_ array: (shape: [Int], values: [Int64])) throws -> [[Int]] {
            try #require(array.shape.count == 2)
            let width = array.shape[1]
            return (0..<array.shape[0]).map { r in array.values[(r * width)..<((r + 1) * width)].map { Int($0) } }
        }
    }

    static func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    static func argmax(_ logits: Tensor) -> [Int] {
        (0..<logits.rows).map { r in
            let row = Array(logits.row(r))
            return row.indices.max { row[$0] < row[$1] } ?? -1
        }
    }

    static func argmax(_ values: [Float], classes: Int) -> [Int] {
        argmax(Tensor(shape: [values.count / classes, classes], data: values))
    }

    @Test(arguments: ["meld", "iemocap"], Backend.allCases) func teacherMatchesPyTorch(dataset: String, backend: Backend) throws {
        try Compute.with(backend: backend) {
            let fixture = try Fixture(dataset: dataset)
            #expect(fixture.cases.count == 6)
            for c in fixture.cases {
                try fixture.teacher.validate(inputIDs: c.ids, attentionMask: c.mask)
                let (hidden, logits) = fixture.teacher(inputIDs: c.ids, attentionMask: c.mask)
                #expect(hidden.shape == c.hidden.shape, "\(c.name)")
                #expect(logits.shape == c.logits.shape, "\(c.name)")
                let hiddenError = Self.maxAbsDifference(hidden.data, c.hidden.values)
                let logitsError = Self.maxAbsDifference(logits.data, c.logits.values)
                print("text parity \(backend) \(dataset)/\(c.name) \(c.ids.count)x\(c.ids[0].count): "
                    + "max abs error hidden \(hiddenError), logits \(logitsError)")
                #expect(hiddenError <= Self.tolerance, "\(dataset)/\(c.name) hidden")
                #expect(logitsError <= Self.tolerance, "\(dataset)/\(c.name) logits")
                #expect(Self.argmax(logits) == Self.argmax(c.logits.values, classes: logits.cols), "\(dataset)/\(c.name)")
            }
        }
    }

    @Test(arguments: ["meld", "iemocap"], Backend.allCases) func encoderMatchesPyTorchAtEveryPosition(dataset: String, backend: Backend) throws {
        try Compute.with(backend: backend) {
            let fixture = try Fixture(dataset: dataset)
            for c in fixture.cases {
                let states = fixture.teacher.encoder(inputIDs: c.ids, attentionMask: c.mask)
                #expect(states.shape == c.lastHidden.shape, "\(c.name)")
                let error = Self.maxAbsDifference(states.data, c.lastHidden.values)
                print("text parity \(backend) \(dataset)/\(c.name): max abs error last_hidden_state \(error)")
                #expect(error <= Self.tolerance, "\(dataset)/\(c.name) last_hidden_state")
            }
        }
    }

    /// An utterance gets the same answer alone, unpadded, as inside a padded batch next to
    /// longer and shorter ones.
    @Test(arguments: ["meld", "iemocap"], Backend.allCases) func answerDoesNotDependOnBatchNeighbours(dataset: String, backend: Backend) throws {
        try Compute.with(backend: backend) {
            let fixture = try Fixture(dataset: dataset)
            let batch = try #require(fixture.cases.first { $0.name.hasPrefix("padded3") })
            let utterances = zip(batch.ids, batch.mask).map { ids, mask in zip(ids, mask).filter { $0.1 == 1 }.map(\.0) }
            let together = fixture.teacher(inputIDs: batch.ids, attentionMask: batch.mask)
            for (row, utterance) in utterances.enumerated() {
                let alone = fixture.teacher(inputIDs: [utterance], attentionMask: [utterance.map { _ in 1 }])
                let difference = Self.maxAbsDifference(alone.logits.data, together.logits.row(row))
                print("text padding invariance \(dataset) row \(row) (\(utterance.count) tokens): \(difference)")
                #expect(difference <= Self.tolerance)
                #expect(Self.maxAbsDifference(alone.hidden.data, together.hidden.row(row)) <= Self.tolerance)
                #expect(Self.argmax(alone.logits) == [Self.argmax(together.logits)[row]])
            }
            // Reversed order, more padding: still the same answers.
            let width = batch.ids[0].count + 40
            let reversed = utterances.reversed().map { u in [Int](repeating: 1, count: width - u.count) + u }
            let reversedMask = utterances.reversed().map { u in [Int](repeating: 0, count: width - u.count) + u.map { _ in 1 } }
            let shuffled = fixture.teacher(inputIDs: reversed, attentionMask: reversedMask)
            for row in utterances.indices {
                let mirrored = utterances.count - 1 - row
                #expect(Self.maxAbsDifference(shuffled.logits.row(mirrored), together.logits.row(row)) <= Self.tolerance)
            }
        }
    }
}
