import Foundation
import Testing
import TelmeFormat
import TelmeHDF5
import TelmeModels
@testable import TelmeImport
import TelmeTestSupport

/// Broken exports (written by h5py in Tools/fixtures/exports.py): each gives its own
/// one-line error naming the file and the place.
@Suite struct HostileExportTests {
    /// Fixture, stored type, and the message after `<path>: `.
    static let cases: [(String, TensorDType, String)] = [
        ("not-hdf5", .f32, "not an HDF5 file"),
        ("not-export", .f32, "not a telme HDF5 export (no \"format\" attribute); write it with Scripts/export_hdf5.py"),
        ("bad-version", .f32, "/@format_version: is 2; this telme reads version 1"),
        ("unknown-dataset", .f32, "/@dataset: unknown dataset \"friends\" (expected meld or iemocap)"),
        ("missing-tensor", .f32, "/teacher/text_model.encoder.layer.0.output.dense.weight: missing, expected shape [4, 12]"),
        ("extra-tensor", .f32, "/teacher/extra.weight: unknown tensor (shape [3, 4]): not part of the teacher architecture"),
        ("wrong-shape", .f32, "/teacher/W.weight: has shape [12, 5], expected [12, 4]"),
        ("string-dtype", .f32, "/teacher/classifier.bias: has element type string, expected float32, float16 or float64"),
        ("int-dtype", .f32, "/teacher/W.bias: has element type int64, expected float32, float16 or float64"),
        ("missing-config", .f32, "/teacher@config: missing (the HF config.json text of the teacher encoder)"),
        ("relu", .f32, "/teacher@config: field hidden_act is \"relu\"; only \"gelu\" is supported"),
        ("missing-field", .f32, "/teacher@config: field hidden_size is null, expected an integer"),
        ("class-count", .f32,
         "/teacher/classifier.weight: has 5 classes, but the meld dataset has 7 labels "
            + "(anger, disgust, fear, joy, neutral, sadness, surprise)"),
        ("nan-weight", .f32, "/teacher/W.weight: element [3, 2] is NaN"),
        ("inf-weight", .f32, "/teacher/text_model.embeddings.LayerNorm.bias: element [2] is -inf"),
        ("large-weight", .f16, "/teacher/W.weight: element [0, 1] is 70000.0, beyond the range of f16"),
        ("vocab-rows", .f32,
         "/teacher/text_model.embeddings.word_embeddings.weight: has 287 rows, but the tokenizer has 288 tokens "
            + "(279 in vocab.json + 9 speaker tokens)"),
        ("fusion-without-students", .f32, "/fusion: present, but the fusion needs both /audio and /video"),
    ]

    @Test(arguments: cases)
    func refusedWithItsOwnMessage(fixture: String, dtype: TensorDType, expected: String) throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try SharedFixtures.url("hostile/\(fixture).h5")
        let output = directory.appendingPathComponent("out.telme")
        let message = errorMessage {
            _ = try TelmeImporter.convert(input: input, output: output,
                                          options: ConversionOptions(dtype: dtype, converterVersion: "test"))
        }
        #expect(message == "\(input.path): \(expected)")
        #expect(message?.contains("\n") == false)
        #expect(!FileManager.default.fileExists(atPath: output.path))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path).isEmpty)
    }

    @Test func truncatedFileNamesLibhdf5sReason() throws {
        let input = try SharedFixtures.url("hostile/truncated.h5")
        let message = try #require(errorMessage {
            _ = try TelmeImporter.convert(input: input, output: URL(fileURLWithPath: "/nonexistent/out.telme"),
                                          options: ConversionOptions(converterVersion: "test"))
        })
        #expect(message.hasPrefix("\(input.path): cannot open the HDF5 file (damaged or truncated?): truncated file"))
        #expect(!message.contains("\n"))
    }

    /// A weight beyond float16's range is fine when stored as f32 or bf16.
    @Test(arguments: [TensorDType.f32, .bf16])
    func largeWeightFitsWiderTypes(dtype: TensorDType) throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let output = directory.appendingPathComponent("out.telme")
        _ = try TelmeImporter.convert(input: try SharedFixtures.url("hostile/large-weight.h5"), output: output,
                                      options: ConversionOptions(dtype: dtype, converterVersion: "test"))
        let model = try TelmeFile(contentsOf: output)
        defer { withExtendedLifetime(model) {} }  // the views point into its mapping
        // bfloat16 keeps 8 significant bits: 70000 rounds to 137 * 2^9.
        #expect(try model.weight("teacher.W.weight").buffer[1] == (dtype == .f32 ? 70000 : 70144))
    }

    /// float16 and float64 datasets are accepted: widened exactly / rounded to float32.
    @Test func acceptsFloat16AndFloat64Weights() throws {
        let directory = try Fixture.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = try SharedFixtures.url("hostile/f16-f64-weights.h5")
        let output = directory.appendingPathComponent("out.telme")
        _ = try TelmeImporter.convert(input: input, output: output, options: ConversionOptions(converterVersion: "test"))
        let h5 = try HDF5File(readingAt: input)
        #expect(try h5.datasetInfo("/teacher/W.weight").elementType == .float16)
        #expect(try h5.datasetInfo("/teacher/classifier.weight").elementType == .float64)
        let model = try TelmeFile(contentsOf: output)
        defer { withExtendedLifetime(model) {} }  // the views point into its mapping
        #expect(Array(try model.weight("teacher.W.weight").buffer) == (try h5.readFloats("/teacher/W.weight")).values)
        #expect(Array(try model.weight("teacher.classifier.weight").buffer)
            == (try h5.readFloats("/teacher/classifier.weight")).values)
    }

    // Config fields the models do not implement, read straight from JSON.

    @Test func refusesOtherAttentionTypes() {
        #expect(errorMessage {
            _ = try HFConfig(json: #"{"attention_type": "space_only"}"#, file: "m.h5", place: "/video@config").timesformer()
        } == "m.h5: /video@config: field attention_type is \"space_only\"; only \"divided_space_time\" is supported")
    }

    @Test func refusesUnsupportedConfigValues() {
        func message(_ json: String, _ build: (HFConfig) throws -> Void) -> String? {
            errorMessage { try build(try HFConfig(json: json, file: "m.h5", place: "/c")) }
        }
        #expect(message(#"{"feat_extract_activation": "relu"}"#) { _ = try $0.data2vecAudio() }
            == "m.h5: /c: field feat_extract_activation is \"relu\"; only \"gelu\" is supported")
        #expect(message(#"{"add_adapter": true}"#) { _ = try $0.data2vecAudio() }
            == "m.h5: /c: field add_adapter is true; only false is supported")
        #expect(message(#"{"conv_dim": [1, 2], "conv_kernel": [3, 3, 3], "conv_stride": [1, 1]}"#) { _ = try $0.data2vecAudio() }
            == "m.h5: /c: field conv_kernel has 3 entries but conv_dim has 2")
        #expect(message(#"{"position_embedding_type": "relative_key"}"#) { _ = try $0.roberta(vocabRows: 10) }
            == "m.h5: /c: field position_embedding_type is \"relative_key\"; only \"absolute\" is supported")
        #expect(message(#"{"model_type": "bert"}"#) { _ = try $0.roberta(vocabRows: 10) }
            == "m.h5: /c: field model_type is \"bert\"; only \"roberta\" is supported")
        #expect(message(#"{"hidden_size": "large"}"#) { _ = try $0.roberta(vocabRows: 10) }
            == "m.h5: /c: field hidden_size is \"large\", expected an integer")
        #expect(message(#"{"hidden_size": 7.5}"#) { _ = try $0.roberta(vocabRows: 10) }
            == "m.h5: /c: field hidden_size is 7.5, expected an integer")
        #expect(message(#"{"qkv_bias": 1}"#) { _ = try $0.timesformer() }
            == "m.h5: /c: field qkv_bias is 1, expected true or false")
        #expect(message("[1, 2]") { _ = $0 } == "m.h5: /c: is not a JSON object")
        #expect(message("{") { _ = $0 } == "m.h5: /c: is not valid JSON")
    }

    /// Omitted fields take the transformers 4.27.2 class defaults.
    @Test func omittedFieldsTakeTheHFDefaults() throws {
        let roberta = try HFConfig(json: "{}", file: "m.h5", place: "/c").roberta(vocabRows: 50274)
        #expect(roberta == RobertaConfig(vocabSize: 50274, hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12,
                                         intermediateSize: 3072, maxPositionEmbeddings: 512, typeVocabSize: 2,
                                         layerNormEps: 1e-12, padTokenId: 1, hiddenAct: "gelu"))
        let audio = try HFConfig(json: "{}", file: "m.h5", place: "/c").data2vecAudio()
        #expect(audio.convBias == false && audio.numConvPosEmbeddingGroups == 16 && audio.layerNormEps == 1e-5)
        let video = try HFConfig(json: "{}", file: "m.h5", place: "/c").timesformer()
        #expect(video.layerNormEps == 1e-6 && video.numFrames == 8 && video.imageSize == 224)
    }
}
