import Foundation
import Testing
import TelmeFormat
import TelmeHDF5
import TelmeImport
import TelmeModels
import TelmeTensor

/// The audio student against PyTorch on the committed tiny models: `model.h5` (made by the real
/// exporter) -> the real converter -> `.telme` -> `TelmeFile` -> `AudioStudent`, compared with
/// `audio_cases.h5` (Tools/fixtures/models/audio.py, transformers 4.27.2).
///
/// Measured max abs error (OpenBLAS, x86-64) over all cases of both datasets: 7.5e-6 on h_a,
/// 2.5e-6 on the logits, 1.0e-5 on the whole last_hidden_state. The tolerances keep a margin
/// of about 4x for other BLAS kernels while staying well below 1e-4.
@Suite struct AudioParityTests {
    static let logitsTolerance: Float = 1e-5
    static let hiddenTolerance: Float = 4e-5

    /// The case names Tools/fixtures/models/audio.py writes, in order (the file's `cases` attribute must agree).
    static let caseNames = ["zeros_1412", "min_400", "len_4000", "len_12345", "len_16000", "batch2_6001"]

    struct Case: Sendable {
        var name: String
        var audio: Tensor
        var hidden: (shape: [Int], values: [Float])
        var logits: (shape: [Int], values: [Float])
        var lastHidden: (shape: [Int], values: [Float])
    }

    /// A tiny model converted and opened, its student on one backend, and its audio cases.
    final class Fixture: Sendable {
        let file: TelmeFile
        let student: AudioStudent
        let caseList: [String]
        let cases: [String: Case]

        init(dataset: String, backend: Backend) throws {
            let model = try ParityModel(dataset: dataset)
            let file = model.file
            self.file = file
            student = try Compute.with(backend: backend) { try AudioStudent(model: file.model, weights: file) }
            let h5: HDF5File
            (h5, caseList) = try model.cases("audio_cases.h5")
            var cases: [String: Case] = [:]
            for name in caseList {
                let audio = try h5.readFloats("\(name)/audio")
                cases[name] = Case(name: name, audio: Tensor(shape: audio.shape, data: audio.values),
                                   hidden: try h5.readFloats("\(name)/audio_hidden"),
                                   logits: try h5.readFloats("\(name)/audio_logits"),
                                   lastHidden: try h5.readFloats("\(name)/audio_last_hidden"))
            }
            self.cases = cases
        }

        /// One conversion per dataset and backend for the whole suite.
        static let all: [String: Result<Fixture, any Error>] = Dictionary(uniqueKeysWithValues:
            ["meld", "iemocap"].flatMap { dataset in
                Backend.allCases.map { backend in
                    ("\(dataset)-\(backend)", Result { try Fixture(dataset: dataset, backend: backend) })
                }
            })

        static func shared(_ dataset: String, _ backend: Backend = .openblas) throws -> Fixture {
            try #require(all["\(dataset)-\(backend)"]).get()
        }
    }

    static func maxAbsDifference(_ a: some Collection<Float>, _ b: some Collection<Float>) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? .infinity
    }

    static func argmax(_ values: [Float], classes: Int) -> [Int] {
        stride(from: 0, to: values.count, by: classes).map { start in
            let row = values[start..<(start + classes)]
            return row.indices.max { row[$0] < row[$1] }.map { $0 - start } ?? -1
        }
    }

    @Test(arguments: ["meld", "iemocap"])
    func fixtureListsTheExpectedCases(dataset: String) throws {
        let fixture = try Fixture.shared(dataset)
        #expect(fixture.caseList == Self.caseNames)
        #expect(fixture.student.minimumSamples == 400)
    }

    @Test(arguments: ["meld", "iemocap"], caseNames)
    func matchesPyTorch(dataset: String, caseName: String) throws {
        for backend in Backend.allCases {
            try Compute.with(backend: backend) { try matchesPyTorch(dataset: dataset, caseName: caseName, backend: backend) }
        }
    }

    func matchesPyTorch(dataset: String, caseName: String, backend: Backend) throws {
        let fixture = try Fixture.shared(dataset, backend)
        let c = try #require(fixture.cases[caseName])
        let batch = c.audio.shape[0]
        let classes = fixture.file.model.labels.count

        let out = try fixture.student(c.audio)
        #expect(out.hidden.shape == c.hidden.shape)
        #expect(out.logits.shape == c.logits.shape)
        #expect(out.logits.shape == [batch, classes])
        let hiddenError = Self.maxAbsDifference(out.hidden.data, c.hidden.values)
        let logitsError = Self.maxAbsDifference(out.logits.data, c.logits.values)

        let full = try fixture.student.encoder(c.audio)
        #expect(full.shape == c.lastHidden.shape)
        let fullError = Self.maxAbsDifference(full.data, c.lastHidden.values)

        print("audio parity \(backend) \(dataset) \(caseName) (\(c.audio.shape)): h_a \(hiddenError), logits \(logitsError), last_hidden_state \(fullError)")
        #expect(hiddenError <= Self.hiddenTolerance)
        #expect(logitsError <= Self.logitsTolerance)
        #expect(fullError <= Self.hiddenTolerance)
        #expect(Self.argmax(out.logits.data, classes: classes) == Self.argmax(c.logits.values, classes: classes))
    }
}
