import Foundation
import TelmeModels

/// What `telme inspect` shows about a `.telme` file, as text or as one JSON object.
public struct TelmeFileReport: Encodable, Sendable {
    /// One row of the tensor table.
    public struct Tensor: Encodable, Sendable {
        public var name: String
        public var dtype: TensorDType
        public var shape: [Int]
        public var offset: UInt64
        public var byteLength: UInt64
        /// XXH64 as 16 lower-case hex digits.
        public var checksum: String
    }

    /// Sizes of the stored tokenizer files.
    public struct TokenizerSizes: Encodable, Sendable {
        public var vocabJsonBytes: Int
        public var mergesTxtBytes: Int
    }

    public var file: String
    public var fileSize: Int
    public var formatVersion: Int
    public var dtype: TensorDType
    public var dataset: String
    public var labels: [String]
    /// `teacher`, `audio`, `video`, `fusion`: the components present.
    public var components: [String]
    public var model: ModelDescription
    public var provenance: Provenance
    /// Model tensors (the tokenizer blobs are not counted).
    public var tensorCount: Int
    public var parameterCount: Int
    public var parametersByComponent: [String: Int]
    public var tokenizer: TokenizerSizes
    /// The tensor table; only when asked for.
    public var tensors: [Tensor]?

    public init(_ file: TelmeFile, includeTensors: Bool = false) {
        self.file = file.url.path
        fileSize = file.fileSize
        formatVersion = file.formatVersion
        dtype = file.dtype
        dataset = file.model.dataset
        labels = file.model.labels
        model = file.model
        provenance = file.provenance
        let modelTensors = file.tensorTable.filter { $0.dtype.isFloat }
        tensorCount = modelTensors.count
        parameterCount = file.parameterCount
        var byComponent: [String: Int] = [:]
        for tensor in modelTensors {
            let component = String(tensor.name.prefix { $0 != "." })
            byComponent[component, default: 0] += tensor.elementCount
        }
        parametersByComponent = byComponent
        components = ["teacher", "audio", "video", "fusion"].filter { byComponent[$0] != nil }
        tokenizer = TokenizerSizes(vocabJsonBytes: file.tokenizerFiles.vocabJSON.count,
                                   mergesTxtBytes: file.tokenizerFiles.merges.count)
        tensors = includeTensors ? file.tensorTable.map {
            Tensor(name: $0.name, dtype: $0.dtype, shape: $0.shape, offset: $0.offset, byteLength: $0.byteLength,
                   checksum: Self.hex16($0.checksum))
        } : nil
    }

    static func hex16(_ value: UInt64) -> String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }

    /// The report as one JSON object (snake_case keys, sorted), without a trailing newline.
    public func json() throws -> String {
        let encoder = Header.encoder()
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// The report for people: a summary, then every config and setting as indented `key: value` lines.
    public func text() throws -> String {
        var lines: [String] = []
        lines.append("file: \(file)")
        lines.append("file size: \(Self.grouped(fileSize)) bytes (\(String(format: "%.2f", Double(fileSize) / 1e6)) MB)")
        lines.append("format version: \(formatVersion)")
        lines.append("dtype: \(dtype.rawValue)")
        lines.append("dataset: \(dataset)")
        lines.append("labels (\(labels.count)): \(labels.joined(separator: ", "))")
        lines.append("components: \(components.joined(separator: ", "))")
        lines.append("tensors: \(tensorCount) (+ 2 tokenizer blobs)")
        let byComponent = components.map { "\($0) \(Self.grouped(parametersByComponent[$0] ?? 0))" }
        lines.append("parameters: \(Self.grouped(parameterCount)) (\(byComponent.joined(separator: ", ")))")
        lines.append("tokenizer: vocab.json \(Self.grouped(tokenizer.vocabJsonBytes)) bytes, "
            + "merges.txt \(Self.grouped(tokenizer.mergesTxtBytes)) bytes")
        lines.append("provenance:")
        lines.append("  source file: \(provenance.sourceFile)")
        lines.append("  source sha256: \(provenance.sourceSHA256)")
        lines.append("  converter version: \(provenance.converterVersion)")
        lines.append("  created (UTC): \(provenance.createdUTC)")
        let modelJSON = try Header.encoder().encode(model)
        let tree = try JSONDecoder().decode(JSONValue.self, from: modelJSON)
        if case .object(let fields) = tree {
            for key in ["text", "audio", "video", "fusion", "settings"] {
                guard let value = fields[key] else { continue }
                lines.append("\(key):")
                value.render(indent: "  ", into: &lines)
            }
        }
        if let tensors {
            lines.append("tensor table (name, dtype, shape, offset, bytes, xxh64):")
            for tensor in tensors {
                lines.append("  \(tensor.name)  \(tensor.dtype.rawValue)  \(tensor.shape)  \(tensor.offset)  "
                    + "\(tensor.byteLength)  \(tensor.checksum)")
            }
        }
        return lines.joined(separator: "\n")
    }

    /// `1234567` as `1,234,567`.
    public static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, digit) in digits.enumerated() {
            if i > 0, (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(digit)
        }
        return value < 0 ? "-" + out : out
    }
}

/// How `inspect` prints JSON values.
extension JSONValue {
    var isScalar: Bool {
        switch self {
        case .array, .object: false
        default: true
        }
    }

    var inline: String {
        switch self {
        case .bool(let value): "\(value)"
        case .int(let value): "\(value)"
        case .double(let value): "\(value)"
        case .string(let value): value
        case .null: "null"
        case .array(let values): "[" + values.map(\.inline).joined(separator: ", ") + "]"
        case .object(let fields): "{" + fields.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value.inline)" }.joined(separator: ", ") + "}"
        }
    }

    func render(indent: String, into lines: inout [String]) {
        guard case .object(let fields) = self else {
            lines.append(indent + inline)
            return
        }
        for key in fields.keys.sorted() {
            guard let value = fields[key] else { continue }
            if case .object = value {
                lines.append("\(indent)\(key):")
                value.render(indent: indent + "  ", into: &lines)
            } else {
                lines.append("\(indent)\(key): \(value.inline)")
            }
        }
    }
}
