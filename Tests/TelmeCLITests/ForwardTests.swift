import Foundation
import Testing
import TelmeCLI
import TelmeHDF5
import TelmeTestSupport

/// `telme forward` run in-process on the tiny models of `SharedFixtures`:
/// `model.h5` -> `telme convert` -> `telme forward` on `forward_cases.h5` (inputs and the
/// PyTorch answers of the whole model, Tools/fixtures/models/text.py).
@Suite struct ForwardTests {
    /// Measured max abs error over every output of both models and both semantics (OpenBLAS,
    /// x86-64): 5.5e-6 on audio_hidden, 3.1e-6 on audio_logits, at most 7.2e-7 on the text,
    /// video and fusion outputs; the tolerance keeps a margin and stays far below 1e-4.
    static let tolerance: Float = 2e-5

    static let outputNames = ["audio_hidden", "audio_logits", "fusion_logits", "text_hidden", "text_logits",
                              "video_hidden", "video_logits"]

    /// A temporary folder holding the converted tiny model of `dataset`.
    final class Workspace {
        let directory: URL
        let model: URL
        let cases: URL

        init(dataset: String) async throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("telme-forward-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            let folder = try SharedFixtures.url("tiny-\(dataset)")
            model = directory.appendingPathComponent("model.telme")
            cases = folder.appendingPathComponent("forward_cases.h5")
            try await AnnotateTests.telme(["convert", folder.appendingPathComponent("model.h5").path, "-o", model.path])
        }

        func path(_ name: String) -> URL { directory.appendingPathComponent(name) }

        deinit { try? FileManager.default.removeItem(at: directory) }
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    static func argmax(_ values: [Float], width: Int) -> [Int] {
        stride(from: 0, to: values.count, by: width).map { start in
            let row = values[start..<(start + width)]
            return row.indices.max { row[$0] < row[$1] }.map { $0 - start } ?? -1
        }
    }

    @Test(arguments: ["meld", "iemocap"], ["independent", "official-batch4"])
    func wholeModelMatchesPyTorch(dataset: String, semantics: String) async throws {
        let workspace = try await Workspace(dataset: dataset)
        let out = workspace.path("out.h5")
        try await AnnotateTests.telme(["forward", "--model", workspace.model.path, "--inputs", workspace.cases.path,
                              "-o", out.path, "--batch-semantics", semantics])
        let result = try HDF5File(readingAt: out)
        let expected = try HDF5File(readingAt: workspace.cases)
        #expect(try result.datasetNames == Self.outputNames)
        for name in Self.outputNames {
            let mine = try result.readFloats(name)
            let theirs = try expected.readFloats("expected/\(semantics)/\(name)")
            #expect(mine.shape == theirs.shape, "\(name)")
            let error = Self.maxAbsDifference(mine.values, theirs.values)
            print("forward \(dataset) \(semantics) \(name) \(mine.shape): max abs error \(error)")
            #expect(error <= Self.tolerance, "\(dataset) \(semantics) \(name)")
            if name.hasSuffix("logits") {
                #expect(Self.argmax(mine.values, width: mine.shape[1]) == Self.argmax(theirs.values, width: theirs.shape[1]),
                        "\(dataset) \(semantics) \(name)")
            }
        }
        // The two semantics really differ on these inputs (ASF attends across the batch of 4).
        let other = semantics == "independent" ? "official-batch4" : "independent"
        let otherLogits = try expected.readFloats("expected/\(other)/fusion_logits").values
        #expect(Self.maxAbsDifference(try result.readFloats("fusion_logits").values, otherLogits) > 1e-3)
    }

    @Test func textOnlyInputsGiveTextOutputsOnly() async throws {
        let workspace = try await Workspace(dataset: "meld")
        let cases = try HDF5File(readingAt: workspace.cases)
        let ids = try cases.readInt64s("input_ids"), mask = try cases.readInt64s("attention_mask")
        let input = workspace.path("text.h5")
        do {
            let h5 = try HDF5File(creatingAt: input)
            try h5.write("input_ids", shape: ids.shape, int64s: ids.values)
            try h5.write("attention_mask", shape: mask.shape, int64s: mask.values)
        }
        let out = workspace.path("out.h5")
        try await AnnotateTests.telme(["forward", "--model", workspace.model.path, "--inputs", input.path, "-o", out.path])
        let result = try HDF5File(readingAt: out)
        #expect(try result.datasetNames == ["text_hidden", "text_logits"])
        let logits = try result.readFloats("text_logits")
        let expected = try cases.readFloats("expected/independent/text_logits")
        #expect(Self.maxAbsDifference(logits.values, expected.values) <= Self.tolerance)
    }

    /// One dataset of a hand-made input file.
    enum Value {
        case ints([Int], [Int64])
        case floats([Int], [Float])
    }

    static func ids(_ rows: [[Int64]]) -> Value { .ints([rows.count, rows.first?.count ?? 0], rows.flatMap { $0 }) }

    static let goodIDs: [[Int64]] = [[1, 1, 0, 5, 200], [0, 7, 8, 9, 200]]
    static let goodMask: [[Int64]] = [[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]]

    static let invalidInputs: [(String, [String: Value], String)] = [
        ("float ids", ["input_ids": .floats([2, 5], [Float](repeating: 0, count: 10)), "attention_mask": ids(goodMask)],
         "input_ids: has element type float32, expected int64"),
        ("ids of rank 1", ["input_ids": .ints([5], [0, 5, 6, 7, 2]), "attention_mask": ids(goodMask)],
         "input_ids: has shape [5], expected batch x length"),
        ("mask shape", ["input_ids": ids(goodIDs), "attention_mask": ids([[1, 1, 1, 1]])],
         "attention_mask: has shape [1, 4], input_ids has [2, 5]"),
        ("mask value", ["input_ids": ids(goodIDs), "attention_mask": ids([[0, 0, 1, 1, 1], [1, 1, 2, 1, 1]])],
         "attention_mask: attention mask [1, 2] is 2, expected 0 or 1"),
        ("id beyond vocabulary", ["input_ids": ids([[1, 1, 0, 5, 200], [0, 7, 100_000, 9, 200]]),
                                  "attention_mask": ids(goodMask)],
         "input_ids: token id [1, 2] is 100000, outside the vocabulary of"),
        ("negative id", ["input_ids": ids([[1, 1, 0, 5, -3], [0, 7, 8, 9, 200]]), "attention_mask": ids(goodMask)],
         "input_ids: token id [0, 4] is -3"),
        ("too long", ["input_ids": ids([[Int64](repeating: 7, count: 513)]),
                      "attention_mask": ids([[Int64](repeating: 1, count: 513)])],
         "input_ids: sequence 0 has 513 non-pad tokens, the model takes at most 512"),
        ("mask without ids", ["attention_mask": ids(goodMask)], "input_ids: is missing"),
        ("nothing known", ["something": ids(goodMask)], "has none of the datasets input_ids, attention_mask, audio, video"),
        ("audio batch", ["input_ids": ids(goodIDs), "attention_mask": ids(goodMask),
                         "audio": .floats([3, 1000], [Float](repeating: 0.5, count: 3000))],
         "audio: has batch size 3, input_ids has 2"),
        ("audio of rank 3", ["audio": .floats([1, 2, 500], [Float](repeating: 0, count: 1000))],
         "audio: has shape [1, 2, 500], expected 2 dimensions"),
        ("integer audio", ["audio": .ints([1, 1000], [Int64](repeating: 0, count: 1000))],
         "audio: has element type int64, expected float32"),
        ("audio too short", ["audio": .floats([1, 100], [Float](repeating: 0.5, count: 100))],
         "audio: clips of 100 samples are shorter than the 400"),
        ("audio not finite", ["audio": .floats([1, 1000], [Float](repeating: 0.5, count: 999) + [.nan])],
         "audio: value nan at flat index 999 is not finite"),
        ("video shape", ["video": .floats([1, 8, 3, 16, 32], [Float](repeating: 0, count: 8 * 3 * 16 * 32))],
         "video: has shape [1, 8, 3, 16, 32], expected batch x 8 x 3 x 32 x 32"),
    ]

    @Test(arguments: invalidInputs.indices)
    func invalidInputIsRefusedWithoutTouchingTheOutput(index: Int) async throws {
        let (label, datasets, message) = Self.invalidInputs[index]
        let workspace = try await Workspace(dataset: "meld")
        let input = workspace.path("in.h5")
        do {
            let h5 = try HDF5File(creatingAt: input)
            for (name, value) in datasets {
                switch value {
                case let .ints(shape, values): try h5.write(name, shape: shape, int64s: values)
                case let .floats(shape, values): try h5.write(name, shape: shape, floats: values)
                }
            }
        }
        let out = workspace.path("out.h5")
        try Data("previous results".utf8).write(to: out)
        do {
            try await AnnotateTests.telme(["forward", "--model", workspace.model.path, "--inputs", input.path, "-o", out.path])
            Issue.record("\(label): no error")
        } catch {
            let text = TelmeCommand.message(for: error)
            #expect(text.contains(input.path), "\(label): \(text)")
            #expect(text.contains(message), "\(label): \(text)")
            #expect(!text.contains("\n"), "\(label): \(text)")
            #expect(TelmeCommand.exitCode(for: error) != .success)
        }
        #expect(try Data(contentsOf: out) == Data("previous results".utf8), "\(label)")
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: workspace.directory.path)
        #expect(Set(leftovers) == ["model.telme", "in.h5", "out.h5"], "\(label)")
    }

    @Test func missingFilesAndBadOptionsAreRefused() async throws {
        let workspace = try await Workspace(dataset: "meld")
        let out = workspace.path("out.h5").path
        let missing = workspace.path("missing.h5").path
        await #expect(throws: (any Error).self) {
            try await AnnotateTests.telme(["forward", "--model", workspace.model.path, "--inputs", missing, "-o", out])
        }
        do {
            try await AnnotateTests.telme(["forward", "--model", missing, "--inputs", workspace.cases.path, "-o", out])
            Issue.record("missing model: no error")
        } catch {
            #expect(TelmeCommand.message(for: error).contains(missing))
        }
        await #expect(throws: (any Error).self) {
            try await AnnotateTests.telme(["forward", "--model", workspace.model.path, "--inputs", workspace.cases.path,
                                  "-o", out, "--batch-semantics", "batch8"])
        }
        #expect(!FileManager.default.fileExists(atPath: out))
    }
}
