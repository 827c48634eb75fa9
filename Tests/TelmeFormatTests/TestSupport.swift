import Foundation
import Testing
import TelmeFormat
import TelmeModels

/// Tiny models covering every component, and deterministic weights for them.
enum Tiny {
    static func textModel() -> ModelDescription {
        var model = ModelDescription(
            dataset: "meld", labels: ModelDescription.defaultLabels(dataset: "meld") ?? [],
            text: TextTeacherConfig(
                encoder: RobertaConfig(vocabSize: 20, hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2,
                                       intermediateSize: 16, maxPositionEmbeddings: 12),
                projectionDim: 6),
            settings: .defaults(dataset: "meld"))
        model.settings.maxTextTokens = 9  // the inputs (9 tokens, <mask>) fit the 12 positions from pad + 1
        return model
    }

    static func fullModel() -> ModelDescription {
        var model = textModel()
        model.dataset = "iemocap"
        model.labels = ModelDescription.defaultLabels(dataset: "iemocap") ?? []
        model.settings = .defaults(dataset: "iemocap")
        model.settings.speakerNumbering = .dialogue
        model.settings.fusionOrder = .videoAudio
        model.settings.maxTextTokens = 9
        model.settings.numFrames = 2  // the video encoder's
        model.audio = AudioStudentConfig(encoder: Data2VecAudioConfig(
            hiddenSize: 8, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 16,
            convDim: [4, 4], convKernel: [3, 2], convStride: [2, 2], numConvPosEmbeddings: 2,
            convPosKernelSize: 3, numConvPosEmbeddingGroups: 2))
        model.video = VideoStudentConfig(encoder: TimesformerConfig(
            imageSize: 32, patchSize: 16, numFrames: 2, hiddenSize: 8, numHiddenLayers: 1,
            numAttentionHeads: 2, intermediateSize: 16))
        model.fusion = FusionConfig(numHeads: 2, betaShift: 0.2)
        return model
    }

    static let provenance = Provenance(sourceFile: "tiny.h5", sourceSHA256: String(repeating: "ab", count: 32),
                                       converterVersion: "test", createdUTC: "2025-01-31T12:00:00Z")

    static let tokenizer = TokenizerFiles(
        vocabJSON: Data(#"{"<s>": 0, "<pad>": 1, "</s>": 2, "Ġhi": 3}"#.utf8),
        merges: Data("#version: 0.2\nĠ h\nĠh i\n".utf8))

    /// Reproducible values in about [-2, 2], with every spec getting its own sequence.
    static func values(_ spec: TensorSpec) -> [Float] {
        var state: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in spec.name.utf8 { state = (state ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
        return (0..<spec.shape.reduce(1, *)).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int32(truncatingIfNeeded: state >> 32)) / Float(1 << 30)
        }
    }

    /// Writes `model` with `Tiny.values` and returns the file's URL.
    @discardableResult
    static func write(_ model: ModelDescription, dtype: TensorDType, to url: URL) throws -> URL {
        try TelmeWriter.write(to: url, model: model, provenance: provenance, tokenizer: tokenizer, dtype: dtype,
                              values: values)
        return url
    }
}

/// A fresh folder under the system's temporary directory, removed at the end of `body`.
func withTemporaryDirectory<T>(_ body: (URL) throws -> T) throws -> T {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("telme-format-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: folder) }
    return try body(folder)
}

/// A `.telme` file taken apart into editable pieces and put back together with consistent
/// lengths and header checksum: the corruption tests change one thing at a time with it.
/// Written from `Schemas/telme-format.md`, independently of the reader.
struct RawTelme {
    struct Entry {
        var name: [UInt8]
        var dtypeCode: UInt8
        var dims: [UInt64]
        /// Offset from the start of the data section (kept when the header changes size).
        var relativeOffset: UInt64
        /// When set, written as the absolute offset instead of `dataOffset + relativeOffset`.
        var absoluteOffset: UInt64?
        var byteLength: UInt64
        var checksum: UInt64

        var nameString: String { String(decoding: name, as: UTF8.self) }
    }

    var magic: [UInt8]
    var version: UInt32
    var headerJSON: [UInt8]
    var entries: [Entry]
    /// Everything from the data offset to the end of the file.
    var data: [UInt8]

    init(_ bytes: [UInt8]) {
        magic = Array(bytes[0..<8])
        version = RawTelme.read(bytes, 8)
        let headerLength = Int(RawTelme.read(bytes, 16) as UInt64)
        let tableLength = Int(RawTelme.read(bytes, 24) as UInt64)
        let dataOffset: UInt64 = RawTelme.read(bytes, 32)
        headerJSON = Array(bytes[64..<(64 + headerLength)])
        var position = 64 + headerLength
        let count: UInt32 = RawTelme.read(bytes, position)
        position += 4
        entries = []
        for _ in 0..<count {
            let nameLength = Int(RawTelme.read(bytes, position) as UInt16)
            position += 2
            let name = Array(bytes[position..<(position + nameLength)])
            position += nameLength
            let code = bytes[position]
            let rank = Int(bytes[position + 1])
            position += 2
            let dims = (0..<rank).map { RawTelme.read(bytes, position + 8 * $0) as UInt64 }
            position += 8 * rank
            let offset: UInt64 = RawTelme.read(bytes, position)
            entries.append(Entry(name: name, dtypeCode: code, dims: dims, relativeOffset: offset - dataOffset,
                                 byteLength: RawTelme.read(bytes, position + 8),
                                 checksum: RawTelme.read(bytes, position + 16)))
            position += 24
        }
        precondition(position == 64 + headerLength + tableLength, "test helper misread the table")
        data = Array(bytes[Int(dataOffset)...])
    }

    var table: [UInt8] {
        var table = [UInt8]()
        RawTelme.append(&table, UInt32(entries.count))
        let dataOffset = self.dataOffset
        for entry in entries {
            RawTelme.append(&table, UInt16(entry.name.count))
            table += entry.name
            table += [entry.dtypeCode, UInt8(entry.dims.count)]
            for dim in entry.dims { RawTelme.append(&table, dim) }
            RawTelme.append(&table, entry.absoluteOffset ?? (dataOffset &+ entry.relativeOffset))
            RawTelme.append(&table, entry.byteLength)
            RawTelme.append(&table, entry.checksum)
        }
        return table
    }

    var tableLength: Int {
        4 + entries.reduce(0) { $0 + 2 + $1.name.count + 2 + 8 * $1.dims.count + 24 }
    }

    var dataOffset: UInt64 { UInt64((64 + headerJSON.count + tableLength + 63) / 64 * 64) }

    /// The file's bytes, with lengths, data offset and header checksum made consistent.
    var bytes: [UInt8] {
        let table = self.table
        let dataOffset = self.dataOffset
        var out = magic
        RawTelme.append(&out, version)
        RawTelme.append(&out, UInt32(0))
        RawTelme.append(&out, UInt64(headerJSON.count))
        RawTelme.append(&out, UInt64(table.count))
        RawTelme.append(&out, dataOffset)
        RawTelme.append(&out, UInt64(data.count))
        RawTelme.append(&out, XXH64.hash(headerJSON + table))
        RawTelme.append(&out, UInt64(0))
        out += headerJSON
        out += table
        out += [UInt8](repeating: 0, count: Int(dataOffset) - out.count)
        out += data
        return out
    }

    func index(of name: String) -> Int {
        entries.firstIndex { $0.nameString == name } ?? -1
    }

    /// The header as a JSON object, to edit.
    var headerObject: [String: Any] {
        get { (try? JSONSerialization.jsonObject(with: Data(headerJSON))) as? [String: Any] ?? [:] }
        set { headerJSON = Array((try? JSONSerialization.data(withJSONObject: newValue, options: [.sortedKeys])) ?? Data()) }
    }

    static func read<T: FixedWidthInteger>(_ bytes: [UInt8], _ offset: Int) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size { value |= T(bytes[offset + i]) << (8 * i) }
        return value
    }

    static func append<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ value: T) {
        for i in 0..<MemoryLayout<T>.size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
    }

    static func store<T: FixedWidthInteger>(_ bytes: inout [UInt8], _ offset: Int, _ value: T) {
        for i in 0..<MemoryLayout<T>.size { bytes[offset + i] = UInt8(truncatingIfNeeded: value >> (8 * i)) }
    }
}
