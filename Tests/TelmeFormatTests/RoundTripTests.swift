import Foundation
import Testing
import TelmeFormat
import TelmeModels
import TelmeTensor

@Suite("Writing and reading .telme files")
struct RoundTripTests {
    static let cases: [(String, TensorDType)] = ["text", "full"].flatMap { name in
        [TensorDType.f32, .f16, .bf16].map { (name, $0) }
    }

    static func model(_ name: String) -> ModelDescription {
        name == "full" ? Tiny.fullModel() : Tiny.textModel()
    }

    @Test(arguments: cases)
    func roundTrip(modelName: String, dtype: TensorDType) throws {
        let model = Self.model(modelName)
        try withTemporaryDirectory { folder in
            let url = try Tiny.write(model, dtype: dtype, to: folder.appendingPathComponent("m.telme"))
            let file = try TelmeFile(contentsOf: url)
            #expect(file.model == model)
            #expect(file.provenance == Tiny.provenance)
            #expect(file.tokenizerFiles == Tiny.tokenizer)
            #expect(file.dtype == dtype)
            #expect(file.formatVersion == 1)
            let size = try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int
            #expect(file.fileSize == size)

            let specs = Architecture.tensorSpecs(for: model)
            #expect(file.tensorTable.map(\.name) == specs.map(\.name) + ["tokenizer.vocab_json", "tokenizer.merges_txt"])
            #expect(file.parameterCount == specs.reduce(0) { $0 + $1.shape.reduce(1, *) })
            for spec in specs {
                let view = try file.weight(spec.name)
                #expect(view.shape == spec.shape)
                let expected: [Float] = switch dtype {
                case .f32: Tiny.values(spec)
                case .f16: Tiny.values(spec).map { HalfPrecision.float(float16Bits: HalfPrecision.float16Bits($0)) }
                default: Tiny.values(spec).map { HalfPrecision.float(bfloat16Bits: HalfPrecision.bfloat16Bits($0)) }
                }
                #expect(Array(view.buffer) == expected, "\(spec.name)")
            }
            #expect(throws: WeightError.self) { try file.weight("teacher.nothing.weight") }
            #expect(throws: WeightError.self) { try file.weight("tokenizer.vocab_json") }
        }
    }

    /// Stored 16-bit values are within the format's rounding error of the originals.
    @Test(arguments: [(TensorDType.f16, Float(0x1p-11)), (.bf16, 0x1p-8)])
    func halfPrecisionError(dtype: TensorDType, relative: Float) throws {
        try withTemporaryDirectory { folder in
            let url = try Tiny.write(Tiny.textModel(), dtype: dtype, to: folder.appendingPathComponent("m.telme"))
            let file = try TelmeFile(contentsOf: url)
            for spec in Architecture.tensorSpecs(for: file.model) {
                for (stored, original) in zip(try file.weight(spec.name).buffer, Tiny.values(spec)) {
                    #expect(abs(stored - original) <= relative * abs(original) + 0x1p-24)
                }
            }
        }
    }

    /// f32 weights are views into the mapping: their addresses are as far apart as their offsets.
    @Test func f32WeightsAreUsedInPlace() throws {
        try withTemporaryDirectory { folder in
            let url = try Tiny.write(Tiny.fullModel(), dtype: .f32, to: folder.appendingPathComponent("m.telme"))
            let file = try TelmeFile(contentsOf: url)
            let table = file.tensorTable.filter { $0.dtype == .f32 }
            let first = try file.weight(table[0].name)
            for info in table {
                let view = try file.weight(info.name)
                let distance = Int(bitPattern: view.base) - Int(bitPattern: first.base)
                #expect(distance == Int(info.offset) - Int(table[0].offset), "\(info.name)")
                #expect(Int(bitPattern: view.base) % 64 == 0)
            }
        }
    }

    @Test func headerIsSnakeCaseJSON() throws {
        try withTemporaryDirectory { folder in
            let url = try Tiny.write(Tiny.fullModel(), dtype: .bf16, to: folder.appendingPathComponent("m.telme"))
            let raw = RawTelme(Array(try Data(contentsOf: url)))
            let json = String(decoding: raw.headerJSON, as: UTF8.self)
            for key in ["\"num_hidden_layers\"", "\"source_sha256\"", "\"created_utc\"", "\"tensor_dtype\":\"bf16\"",
                        "\"beta_shift\"", "\"speaker_numbering\":\"dialogue\"", "\"fusion_order\":\"video-audio\""] {
                #expect(json.contains(key), "\(key) in \(json)")
            }
            #expect(!json.contains("numHiddenLayers"))
            #expect(raw.magic == [0x89, 0x54, 0x45, 0x4C, 0x4D, 0x45, 0x0D, 0x0A])
        }
    }

    @Test func writingIsDeterministic() throws {
        try withTemporaryDirectory { folder in
            let a = try Tiny.write(Tiny.fullModel(), dtype: .f16, to: folder.appendingPathComponent("a.telme"))
            let b = try Tiny.write(Tiny.fullModel(), dtype: .f16, to: folder.appendingPathComponent("b.telme"))
            #expect(try Data(contentsOf: a) == Data(contentsOf: b))
        }
    }

    /// A failing write leaves neither a partial file nor a temporary one, and keeps an existing file.
    @Test func failedWriteLeavesNothingBehind() throws {
        struct Stop: Error {}
        try withTemporaryDirectory { folder in
            let url = folder.appendingPathComponent("m.telme")
            var calls = 0
            #expect(throws: Stop.self) {
                try TelmeWriter.write(to: url, model: Tiny.textModel(), provenance: Tiny.provenance,
                                      tokenizer: Tiny.tokenizer, dtype: .f32) { spec in
                    calls += 1
                    if calls == 5 { throw Stop() }
                    return Tiny.values(spec)
                }
            }
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).isEmpty)

            try Tiny.write(Tiny.textModel(), dtype: .f32, to: url)
            let before = try Data(contentsOf: url)
            let error = #expect(throws: TelmeFormatError.self) {
                try TelmeWriter.write(to: url, model: Tiny.textModel(), provenance: Tiny.provenance,
                                      tokenizer: Tiny.tokenizer, dtype: .f32) { spec in
                    spec.name == "teacher.W.bias" ? [1, 2] : Tiny.values(spec)
                }
            }
            #expect(error?.description.contains("gave 2 values for shape [6], expected 6 at tensor teacher.W.bias") == true)
            #expect(try Data(contentsOf: url) == before)
            #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path) == ["m.telme"])
        }
    }

    @Test func writerRefusesInvalidModels() throws {
        try withTemporaryDirectory { folder in
            var model = Tiny.fullModel()
            model.audio?.encoder.convKernel = [3]
            let error = #expect(throws: TelmeFormatError.self) {
                try Tiny.write(model, dtype: .f32, to: folder.appendingPathComponent("m.telme"))
            }
            #expect(error?.kind == .badModel)
            #expect(error?.description.contains("conv_dim, conv_kernel and conv_stride have different lengths") == true)
            #expect(throws: TelmeFormatError.self) {
                try Tiny.write(Tiny.textModel(), dtype: .u8, to: folder.appendingPathComponent("m.telme"))
            }
        }
    }

    /// A flipped data byte is caught on both paths (f32 in place, f16/bf16 converted), and
    /// checksums can be skipped: the flip then goes unnoticed (and shows in the value).
    @Test(arguments: [TensorDType.f32, .f16, .bf16])
    func flippedDataByte(dtype: TensorDType) throws {
        try withTemporaryDirectory { folder in
            let url = try Tiny.write(Tiny.textModel(), dtype: dtype, to: folder.appendingPathComponent("m.telme"))
            var bytes = Array(try Data(contentsOf: url))
            let raw = RawTelme(bytes)
            let entry = raw.entries[raw.index(of: "teacher.W.bias")]
            bytes[Int(raw.dataOffset + entry.relativeOffset) + 1] ^= 0x40
            try Data(bytes).write(to: url)
            let error = #expect(throws: TelmeFormatError.self) { try TelmeFile(contentsOf: url) }
            #expect(error?.kind == .dataChecksum)
            #expect(error?.description.contains("at tensor teacher.W.bias (bytes ") == true, "\(String(describing: error))")
            let file = try TelmeFile(contentsOf: url, verifyChecksums: false)
            let original = Tiny.values(TensorSpec("teacher.W.bias", [6]))[0]
            let expected: Float = switch dtype {
            case .f32: original
            case .f16: HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(original))
            default: HalfPrecision.float(bfloat16Bits: HalfPrecision.bfloat16Bits(original))
            }
            #expect(try file.weight("teacher.W.bias").buffer[0].bitPattern != expected.bitPattern)
        }
    }
}
