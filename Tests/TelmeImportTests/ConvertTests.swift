import Foundation
import Testing
import TelmeFormat
import TelmeHDF5
import TelmeImport
import TelmeModels
import TelmeTestSupport

/// Exports made by the real exporter from micro checkpoints, converted and read back.
@Suite struct ConvertTests {
    static let exports = ["meld-teacher", "meld-teacher-audio", "meld-all",
                          "iemocap-teacher", "iemocap-teacher-audio", "iemocap-all"]

    /// The configs `Tools/fixtures/exports.py` builds (`micro_configs`).
    static let text = RobertaConfig(vocabSize: 288, hiddenSize: 8, numHiddenLayers: 2, numAttentionHeads: 2,
                                    intermediateSize: 12, maxPositionEmbeddings: 514, typeVocabSize: 1,
                                    layerNormEps: 1e-5, padTokenId: 1, hiddenAct: "gelu")
    static let audio = Data2VecAudioConfig(hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2,
                                           intermediateSize: 24, layerNormEps: 1e-5, convDim: [8, 8, 8, 8, 8, 8, 12],
                                           convKernel: [10, 3, 3, 3, 3, 2, 2], convStride: [5, 2, 2, 2, 2, 2, 2],
                                           convBias: true, numConvPosEmbeddings: 5, convPosKernelSize: 19,
                                           numConvPosEmbeddingGroups: 4)
    static let video = TimesformerConfig(imageSize: 16, patchSize: 8, numChannels: 3, numFrames: 8, hiddenSize: 20,
                                         numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 28,
                                         layerNormEps: 1e-6, qkvBias: true)

    static func expectedModel(_ name: String) -> ModelDescription {
        let dataset = String(name.prefix { $0 != "-" })
        var model = ModelDescription(dataset: dataset, labels: ModelDescription.defaultLabels(dataset: dataset) ?? [],
                                     text: TextTeacherConfig(encoder: text, projectionDim: 12),
                                     settings: Settings.defaults(dataset: dataset))
        if name.hasSuffix("-teacher-audio") || name.hasSuffix("-all") { model.audio = AudioStudentConfig(encoder: audio) }
        if name.hasSuffix("-all") {
            model.video = VideoStudentConfig(encoder: video)
            model.fusion = FusionConfig.defaults(dataset: dataset)
        }
        return model
    }

    func convert(_ input: URL, dtype: TensorDType = .f32, in directory: URL,
                 options: (inout ConversionOptions) -> Void = { _ in }) throws -> (ConversionReport, TelmeFile) {
        var settings = ConversionOptions(dtype: dtype, converterVersion: "test-1.2.3", createdUTC: "2025-01-02T03:04:05Z")
        options(&settings)
        let output = directory.appendingPathComponent(input.deletingPathExtension().lastPathComponent + ".telme")
        let report = try TelmeImporter.convert(input: input, output: output, options: settings)
        return (report, try TelmeFile(contentsOf: output))
    }

    @Test(arguments: exports)
    func float32KeepsEveryValueAndDescribesTheModel(name: String) throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try SharedFixtures.url("export/\(name).h5")
        let (report, model) = try convert(input, in: directory)
        defer { withExtendedLifetime(model) {} }  // weight views point into its mapping

        #expect(model.model == Self.expectedModel(name))
        #expect(model.dtype == .f32)
        let specs = Architecture.tensorSpecs(for: model.model)
        #expect(report.tensorCount == specs.count)
        var expectedDropped = ["/teacher/text_model.embeddings.position_ids", "/teacher/text_model.pooler.dense.bias",
                               "/teacher/text_model.pooler.dense.weight"]
        if model.model.audio != nil { expectedDropped.append("/audio/model.masked_spec_embed") }
        #expect(report.dropped.sorted() == expectedDropped.sorted())

        // Provenance: hashlib's digest of the same file.
        let sums = try String(contentsOf: try SharedFixtures.url("export/SHA256SUMS"), encoding: .utf8)
        let digest = sums.split(separator: "\n").first { $0.hasSuffix("  \(name).h5") }.map { String($0.prefix(64)) }
        #expect(model.provenance == Provenance(sourceFile: "\(name).h5", sourceSHA256: try #require(digest),
                                               converterVersion: "test-1.2.3", createdUTC: "2025-01-02T03:04:05Z"))

        // Tokenizer files byte for byte.
        let h5 = try HDF5File(readingAt: input)
        #expect(model.tokenizerFiles.vocabJSON == Data(try h5.readBytes("/tokenizer/vocab.json")))
        #expect(model.tokenizerFiles.merges == Data(try h5.readBytes("/tokenizer/merges.txt")))

        // Every tensor bit for bit.
        var parameters = 0
        for spec in specs {
            let component = String(spec.name.prefix { $0 != "." })
            let source = "/\(component)/\(spec.name.dropFirst(component.count + 1))"
            let (shape, values) = try h5.readFloats(source)
            let weight = try model.weight(spec.name)
            #expect(weight.shape == spec.shape && shape == spec.shape, "\(spec.name)")
            #expect(Array(weight.buffer) == values, "\(spec.name)")
            parameters += values.count
        }
        #expect(report.parameterCount == parameters && model.parameterCount == parameters)
    }

    /// f16 and bf16 stay within half an ulp of their format (round to nearest).
    @Test(arguments: [TensorDType.f16, .bf16])
    func halfPrecisionRoundsToNearest(dtype: TensorDType) throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try SharedFixtures.url("export/meld-all.h5")
        let (_, model) = try convert(input, dtype: dtype, in: directory)
        defer { withExtendedLifetime(model) {} }  // weight views point into its memory
        #expect(model.dtype == dtype)
        let h5 = try HDF5File(readingAt: input)
        // Half an ulp relative to the value: 2^-11 (f16, 10 stored bits), 2^-8 (bf16, 7);
        // f16 subnormals: half of 2^-24.
        let relative: Float = dtype == .f16 ? 0x1p-11 : 0x1p-8
        let absolute: Float = dtype == .f16 ? 0x1p-25 : 0
        var worst: Float = 0
        var changed = 0
        for spec in Architecture.tensorSpecs(for: model.model) {
            let component = String(spec.name.prefix { $0 != "." })
            let values = try h5.readFloats("/\(component)/\(spec.name.dropFirst(component.count + 1))").values
            let stored = Array(try model.weight(spec.name).buffer)
            for (original, rounded) in zip(values, stored) {
                let error = abs(original - rounded)
                #expect(error <= max(abs(original) * relative, absolute), "\(spec.name): \(original) -> \(rounded)")
                if abs(original) >= 0x1p-14 { worst = max(worst, error / abs(original)) }  // normal range
                if error > 0 { changed += 1 }
            }
        }
        #expect(changed > 0)  // random weights do not all fit 16 bits: the rounding really happened
        #expect(worst <= relative)
    }

    @Test func commandLineChoicesOverrideTheDatasetDefaults() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let (_, model) = try convert(try SharedFixtures.url("export/meld-all.h5"), in: directory) { options in
            options.fusionHeads = 4
            options.betaShift = 0.25
            options.speakerNumbering = .dialogue
            options.fusionOrder = .videoAudio
            options.channelOrder = .rgb
            options.sampleRate = 16000
        }
        #expect(model.model.fusion == FusionConfig(numHeads: 4, betaShift: 0.25))
        var settings = Settings.defaults(dataset: "meld")
        settings.speakerNumbering = .dialogue
        settings.fusionOrder = .videoAudio
        settings.channelOrder = .rgb
        settings.sampleRate = 16000
        #expect(model.model.settings == settings)
    }

    /// Converts the fixture `name` with `options` in a temporary folder: its URL and the
    /// conversion's error message (nil when it converts).
    func refusal(_ name: String, options: (inout ConversionOptions) -> Void) throws -> (input: URL, message: String?) {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try SharedFixtures.url(name)
        return (input, errorMessage { _ = try convert(input, in: directory, options: options) })
    }

    @Test func refusesFusionHeadsThatDoNotDivideTheWidth() throws {
        let (input, message) = try refusal("export/meld-all.h5") { $0.fusionHeads = 5 }
        #expect(message == "\(input.path): the model it describes is invalid: fusion.num_heads 5 does not divide the width 36")
    }

    @Test func refusesFusionOptionsWithoutAFusion() throws {
        let (input, message) = try refusal("export/meld-teacher.h5") { $0.betaShift = 0.3 }
        #expect(message == "\(input.path): --fusion-heads and --beta-shift need a fusion, and the file has no /fusion")
    }

    /// A failed conversion leaves an existing output untouched and no temporary file behind.
    @Test func failureKeepsTheExistingOutput() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("nan-weight.telme")
        try Data("previous model".utf8).write(to: output)
        let input = try SharedFixtures.url("hostile/nan-weight.h5")
        #expect(errorMessage {
            _ = try TelmeImporter.convert(input: input, output: output, options: ConversionOptions(converterVersion: "t"))
        } != nil)
        #expect(try Data(contentsOf: output) == Data("previous model".utf8))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["nan-weight.telme"])
    }

    @Test func refusesToOverwriteTheInput() throws {
        let input = try SharedFixtures.url("export/meld-teacher.h5")
        #expect(errorMessage {
            _ = try TelmeImporter.convert(input: input, output: input, options: ConversionOptions(converterVersion: "t"))
        } == "\(input.path): the output would overwrite the input")
    }
}
