import Foundation
import Testing
import TelmeFormat
import TelmeModels

/// One way of damaging a valid file, and what the reader must say about it.
struct Corruption: Sendable, CustomTestStringConvertible {
    var name: String
    var kind: TelmeFormatError.Kind
    /// Fragments the one-line message must contain.
    var message: [String]
    var apply: @Sendable ([UInt8]) -> [UInt8]

    var testDescription: String { name }

    init(_ name: String, _ kind: TelmeFormatError.Kind, _ message: [String], _ apply: @escaping @Sendable ([UInt8]) -> [UInt8]) {
        self.name = name
        self.kind = kind
        self.message = message
        self.apply = apply
    }

    /// A corruption made by editing the file's parts; lengths and header checksum are redone.
    static func raw(_ name: String, _ kind: TelmeFormatError.Kind, _ message: [String],
                    _ edit: @escaping @Sendable (inout RawTelme) -> Void) -> Corruption {
        Corruption(name, kind, message) { bytes in
            var raw = RawTelme(bytes)
            edit(&raw)
            return raw.bytes
        }
    }

    /// A corruption of one table entry.
    static func entry(_ name: String, _ tensor: String, _ kind: TelmeFormatError.Kind, _ message: [String],
                      _ edit: @escaping @Sendable (inout RawTelme.Entry) -> Void) -> Corruption {
        raw(name, kind, message) { raw in edit(&raw.entries[raw.index(of: tensor)]) }
    }

    /// Sets a little-endian integer of the preamble (nothing else is redone).
    static func preamble<T: FixedWidthInteger & Sendable>(_ name: String, at offset: Int, _ value: T,
                                                          _ kind: TelmeFormatError.Kind, _ message: [String]) -> Corruption {
        Corruption(name, kind, message) { bytes in
            var bytes = bytes
            RawTelme.store(&bytes, offset, value)
            return bytes
        }
    }
}

/// The file every corruption starts from: all four components, f32.
private func validFile() throws -> [UInt8] {
    try withTemporaryDirectory { folder in
        let url = try Tiny.write(Tiny.fullModel(), dtype: .f32, to: folder.appendingPathComponent("base.telme"))
        return Array(try Data(contentsOf: url))
    }
}

private let query = "teacher.text_model.encoder.layer.0.attention.self.query.weight"
private let key = "teacher.text_model.encoder.layer.0.attention.self.key.weight"
private let fusionW = "fusion.W.weight"

/// Editing the header JSON as an object.
private func editModel(_ raw: inout RawTelme, _ edit: (inout [String: Any]) -> Void) {
    var header = raw.headerObject
    var model = header["model"] as? [String: Any] ?? [:]
    edit(&model)
    header["model"] = model
    raw.headerObject = header
}

@Suite("Corrupted .telme files are refused with a reason")
struct CorruptionTests {
    static let corruptions: [Corruption] = [
        Corruption("bad magic", .badMagic, ["not a .telme file: starts with 89 58 45 4C", "expected 89 54 45 4C 4D 45 0D 0A", "at byte 0"]) {
            var bytes = $0
            bytes[1] = 0x58
            return bytes
        },
        Corruption("a text file", .badMagic, ["not a .telme file: starts with 7B 22"]) { _ in Array(#"{"model": 1}"#.utf8) },
        .preamble("unknown version", at: 8, UInt32(2), .unsupportedVersion,
                  ["format version 2 is not supported (this reader reads version 1)", "at byte 8"]),
        .preamble("non-zero flags", at: 12, UInt32(1), .badPreamble, ["unknown flags 0x1", "at byte 12"]),
        .preamble("non-zero reserved field", at: 56, UInt64(7), .badPreamble, ["reserved field is 0x7", "at byte 56"]),
        Corruption("empty file", .truncated, ["the file is empty", "at byte 0"]) { _ in [] },
        Corruption("truncated in the preamble", .truncated, ["truncated inside the 64-byte preamble (the file is 40 bytes)", "at byte 40"]) {
            Array($0.prefix(40))
        },
        Corruption("truncated mid-header", .truncated, ["truncated inside the header", "the header ends at byte"]) {
            Array($0.prefix(64 + RawTelme($0).headerJSON.count / 2))
        },
        Corruption("truncated mid-table", .truncated, ["truncated inside the tensor table", "the table ends at byte"]) {
            let raw = RawTelme($0)
            return Array($0.prefix(64 + raw.headerJSON.count + raw.tableLength / 2))
        },
        Corruption("truncated mid-data", .truncated, ["truncated inside the tensor data", "the preamble declares"]) {
            Array($0.prefix(Int(RawTelme($0).dataOffset) + RawTelme($0).data.count / 2))
        },
        Corruption("last byte missing", .truncated, ["truncated inside the tensor data"]) { Array($0.dropLast()) },
        Corruption("trailing bytes", .badPreamble, ["3 unexpected bytes after the end of the data"]) { $0 + [1, 2, 3] },
        .preamble("huge header length", at: 16, UInt64.max, .headerTooLarge,
                  ["header length 18446744073709551615 exceeds the limit of 16777216 bytes", "at byte 16"]),
        .preamble("header length past the end", at: 16, UInt64(1 << 24), .badPreamble,
                  ["data offset", "is not 16786368 (the end of the tensor table rounded up to 64)", "at byte 32"]),
        .preamble("huge table length", at: 24, UInt64(1) << 40, .headerTooLarge, ["tensor table length 1099511627776 exceeds", "at byte 24"]),
        .preamble("wrong data offset", at: 32, UInt64(64), .badPreamble, ["data offset 64 is not", "at byte 32"]),
        .preamble("data length overflowing", at: 40, UInt64.max, .badPreamble, ["overflows", "at byte 40"]),
        Corruption("header byte flipped", .headerChecksum, ["header checksum mismatch (stored 0x", "at bytes 64..<"]) {
            var bytes = $0
            bytes[70] ^= 0x20
            return bytes
        },
        .raw("invalid JSON", .badHeader, ["header JSON is invalid", "at byte 64"]) { $0.headerJSON = Array("{not json".utf8) },
        .raw("deeply nested JSON", .badHeader, ["header JSON is invalid"]) { raw in
            raw.headerJSON = [UInt8](repeating: UInt8(ascii: "["), count: 1_000_000)
        },
        .raw("JSON without the dtype", .badHeader, ["header JSON is invalid: missing key tensor_dtype at the top level"]) { raw in
            var header = raw.headerObject
            header["tensor_dtype"] = nil
            raw.headerObject = header
        },
        .raw("JSON without a model", .badHeader, ["header JSON is invalid: missing key model at the top level"]) { raw in
            var header = raw.headerObject
            header["model"] = nil
            raw.headerObject = header
        },
        .raw("JSON with a wrong type", .badHeader, ["header JSON is invalid", "model.labels"]) { raw in
            editModel(&raw) { $0["labels"] = "anger" }
        },
        .raw("unknown header dtype", .badHeader, ["header JSON is invalid", "f8", "tensor_dtype"]) { raw in
            var header = raw.headerObject
            header["tensor_dtype"] = "f8"
            raw.headerObject = header
        },
        .raw("u8 model tensors", .badHeader, ["header tensor_dtype is u8, expected f32, f16 or bf16"]) { raw in
            var header = raw.headerObject
            header["tensor_dtype"] = "u8"
            raw.headerObject = header
        },
        .raw("no labels", .badModel, ["invalid model description: labels count is 0"]) { raw in
            editModel(&raw) { $0["labels"] = [String]() }
        },
        .raw("inconsistent audio convolutions", .badModel, ["conv_dim, conv_kernel and conv_stride have different lengths (2, 1, 2)"]) { raw in
            editModel(&raw) { model in
                var audio = model["audio"] as? [String: Any] ?? [:]
                var encoder = audio["encoder"] as? [String: Any] ?? [:]
                encoder["conv_kernel"] = [3]
                audio["encoder"] = encoder
                model["audio"] = audio
            }
        },
        .raw("absurd layer count", .badModel, ["text.encoder.num_hidden_layers is 100000000, expected 0...1024"]) { raw in
            editModel(&raw) { model in
                var text = model["text"] as? [String: Any] ?? [:]
                var encoder = text["encoder"] as? [String: Any] ?? [:]
                encoder["num_hidden_layers"] = 100_000_000
                text["encoder"] = encoder
                model["text"] = text
            }
        },
        .raw("header disagrees with the tensors", .shapeMismatch,
             ["tensor teacher.text_model.embeddings.word_embeddings.weight has shape [20, 8], the architecture expects [2147483647, 8]"]) { raw in
            editModel(&raw) { model in
                var text = model["text"] as? [String: Any] ?? [:]
                var encoder = text["encoder"] as? [String: Any] ?? [:]
                encoder["vocab_size"] = Int(Int32.max)
                text["encoder"] = encoder
                model["text"] = text
            }
        },
        .raw("tensor count too large", .badTable, ["1000000 tensors cannot fit in a table of"]) { raw in
            raw.entries = [raw.entries[0]]
            raw.headerJSON += [UInt8](repeating: 0x20, count: 4)  // keep JSON valid
        }.patchingTableCount(1_000_000),
        .entry("empty name", query, .badTable, ["has a name length of 0"]) { $0.name = [] },
        .entry("name not UTF-8", query, .badTable, ["is not UTF-8"]) { $0.name = [0xFF, 0xFE] },
        .entry("unknown dtype", query, .unknownDType, ["unknown dtype code 9", "at tensor \(query) (table byte"]) { $0.dtypeCode = 9 },
        .entry("rank too high", query, .badTable, ["rank 9 exceeds 8", "at tensor \(query)"]) { $0.dims = [UInt64](repeating: 1, count: 9) },
        .entry("dimension too large", query, .badTable, ["dimension 18446744073709551615 is too large"]) { $0.dims = [.max, 1] },
        .entry("byte length not matching the shape", query, .badTable,
               ["byte length 100 does not match shape [8, 8] of f32 (256 bytes)", "at tensor \(query)"]) { $0.byteLength = 100 },
        .entry("offset past the end", fusionW, .badOffset, ["extend past the end of the file", "at tensor \(fusionW)"]) {
            $0.relativeOffset += 1 << 20
        },
        .entry("misaligned offset", query, .misaligned, ["is not a multiple of 64", "at tensor \(query)"]) { $0.relativeOffset += 4 },
        .entry("overflowing offset", query, .badOffset, ["data offset 18446744073709551552 + byte length 256 overflows", "at tensor \(query)"]) {
            $0.absoluteOffset = UInt64.max - 63
        },
        .entry("offset inside the header", query, .badOffset, ["data offset 0 lies before the data section"]) { $0.absoluteOffset = 0 },
        .raw("overlapping tensors", .overlap, ["tensors \(query) (bytes", "and \(key) (bytes", "overlap"]) { raw in
            raw.entries[raw.index(of: key)].relativeOffset = raw.entries[raw.index(of: query)].relativeOffset + 64
        },
        .raw("gap between tensors", .badOffset, ["(tensors are stored in table order, each at the next multiple of 64)",
                                                   "at tensor tokenizer.merges_txt"]) { raw in
            raw.entries[raw.entries.count - 1].relativeOffset += 64
            raw.data += [UInt8](repeating: 0, count: 64)
        },
        .entry("wrong shape", query, .shapeMismatch, ["tensor \(query) has shape [4, 16], the architecture expects [8, 8]"]) {
            $0.dims = [4, 16]
        },
        .raw("missing tensor", .missingTensor, ["tensor \(key) (shape [8, 8]) is missing from the tensor table"]) { raw in
            raw.entries.remove(at: raw.index(of: key))
        },
        .entry("unknown tensor", query, .unknownTensor, ["tensor teacher.extra.weight is not part of the model's architecture"]) {
            $0.name = Array("teacher.extra.weight".utf8)
        },
        .raw("duplicate tensor", .duplicateTensor, ["tensor \(query) appears twice in the table"]) { raw in
            raw.entries[raw.index(of: key)].name = Array(query.utf8)
        },
        .entry("dtype differing from the header", query, .dtypeMismatch, ["tensor \(query) is f16, the header declares f32"]) {
            $0.dtypeCode = 2
            $0.byteLength = 128
        },
        .entry("tokenizer blob as f32", "tokenizer.vocab_json", .dtypeMismatch, ["tokenizer blob tokenizer.vocab_json is f32"]) {
            $0.dtypeCode = 1
            $0.dims[0] /= 4
            $0.byteLength = $0.dims[0] * 4
        },
        .raw("missing tokenizer", .missingTensor, ["tokenizer blob tokenizer.merges_txt is missing"]) { raw in
            raw.entries.removeLast()
        },
        Corruption("flipped data byte", .dataChecksum, ["data checksum mismatch", "at tensor \(fusionW) (bytes"]) {
            var bytes = $0
            let raw = RawTelme($0)
            bytes[Int(raw.dataOffset + raw.entries[raw.index(of: fusionW)].relativeOffset) + 5] ^= 0x01
            return bytes
        },
        Corruption("flipped tokenizer byte", .dataChecksum, ["data checksum mismatch", "at tensor tokenizer.vocab_json"]) {
            var bytes = $0
            let raw = RawTelme($0)
            bytes[Int(raw.dataOffset + raw.entries[raw.index(of: "tokenizer.vocab_json")].relativeOffset)] ^= 0x01
            return bytes
        },
        Corruption("non-zero padding between tensors", .badOffset, ["padding before the tensor is not zero"]) {
            var bytes = $0
            let raw = RawTelme($0)
            let bias = raw.entries[raw.index(of: "teacher.classifier.bias")]  // 6 floats: 40 bytes of padding follow
            bytes[Int(raw.dataOffset + bias.relativeOffset + bias.byteLength) + 1] = 0xAA
            return bytes
        },
    ]

    @Test(arguments: corruptions)
    func refused(corruption: Corruption) throws {
        let bytes = corruption.apply(try validFile())
        try withTemporaryDirectory { folder in
            let url = folder.appendingPathComponent("bad.telme")
            try Data(bytes).write(to: url)
            let error = #expect(throws: TelmeFormatError.self) { try TelmeFile(contentsOf: url) }
            guard let error else { return }
            #expect(error.kind == corruption.kind, "\(error)")
            let message = error.description
            #expect(message.hasPrefix(url.path + ": "), "\(message)")
            #expect(!message.contains("\n"), "\(message)")
            for fragment in corruption.message {
                #expect(message.contains(fragment), "\(message)\nshould contain: \(fragment)")
            }
        }
    }

    @Test func baseFileIsValid() throws {
        let bytes = try validFile()
        try withTemporaryDirectory { folder in
            let url = folder.appendingPathComponent("base.telme")
            try Data(RawTelme(bytes).bytes).write(to: url)
            #expect(try Data(contentsOf: url) == Data(bytes), "the test helper rebuilds the file byte for byte")
            _ = try TelmeFile(contentsOf: url)
        }
    }

    @Test func missingFileAndFolder() throws {
        try withTemporaryDirectory { folder in
            let missing = folder.appendingPathComponent("none.telme")
            let error = #expect(throws: TelmeFormatError.self) { try TelmeFile(contentsOf: missing) }
            #expect(error?.description == "\(missing.path): cannot open the file: No such file or directory")
            let notFile = #expect(throws: TelmeFormatError.self) { try TelmeFile(contentsOf: folder) }
            #expect(notFile?.description == "\(folder.path): is a directory, not a regular file")
        }
    }

    /// Every byte of a valid file is checked by something: flipping a bit of a byte anywhere
    /// (preamble, header, table, padding, data) and cutting the file anywhere are all refused
    /// with a `TelmeFormatError` (never a crash, never silent acceptance).
    @Test func everySingleByteChangeIsRefused() throws {
        let bytes = try withTemporaryDirectory { folder in
            Array(try Data(contentsOf: try Tiny.write(Tiny.textModel(), dtype: .bf16, to: folder.appendingPathComponent("m.telme"))))
        }
        let dataOffset = Int(RawTelme(bytes).dataOffset)
        // Every preamble byte, every 5th byte of the header and table, every 13th of the data.
        let positions = Array(0..<64) + Array(stride(from: 64, to: dataOffset, by: 5))
            + Array(stride(from: dataOffset, to: bytes.count, by: 13))
        try withTemporaryDirectory { folder in
            let url = folder.appendingPathComponent("bad.telme")
            var accepted: [String] = []
            for position in positions {
                let bit = position % 8
                var damaged = bytes
                damaged[position] ^= UInt8(1 << bit)
                try Data(damaged).write(to: url)
                if (try? TelmeFile(contentsOf: url)) != nil { accepted.append("flip bit \(bit) of byte \(position)") }
            }
            for length in stride(from: 0, to: bytes.count, by: 7) {
                try Data(bytes.prefix(length)).write(to: url)
                if (try? TelmeFile(contentsOf: url)) != nil { accepted.append("cut at \(length)") }
            }
            #expect(accepted.isEmpty, "\(accepted.prefix(10))")
        }
    }
}

extension Corruption {
    /// Overwrites the tensor count (the table's first four bytes) after the rebuild, and
    /// fixes the header checksum so that the count itself is what the reader trips on.
    func patchingTableCount(_ count: UInt32) -> Corruption {
        let inner = apply
        return Corruption(name, kind, message) { bytes in
            var out = inner(bytes)
            let headerLength = Int(RawTelme.read(out, 16) as UInt64)
            let tableLength = Int(RawTelme.read(out, 24) as UInt64)
            RawTelme.store(&out, 64 + headerLength, count)
            RawTelme.store(&out, 48, XXH64.hash(Array(out[64..<(64 + headerLength + tableLength)])))
            return out
        }
    }
}
