import Foundation
import TelmeModels

/// Constants of the byte layout; `Schemas/telme-format.md` is the normative description.
enum Layout {
    /// `89 54 45 4C 4D 45 0D 0A`: a non-ASCII first byte (no text file starts like this), the
    /// name, and CR LF so that a text-mode transfer is detected.
    static let magic: [UInt8] = [0x89, 0x54, 0x45, 0x4C, 0x4D, 0x45, 0x0D, 0x0A]
    static let formatVersion: UInt32 = 1
    static let preambleSize = 64
    static let alignment = 64
    /// Limits checked before anything is allocated or decoded.
    static let maxHeaderLength: UInt64 = 16 << 20
    static let maxTableLength: UInt64 = 64 << 20
    static let maxNameLength = 1024
    static let maxRank = 8
    /// Size of a table entry without its name and dimensions.
    static let entryFixedSize = 2 + 1 + 1 + 8 + 8 + 8

    /// Names of the tokenizer blobs (`u8`, rank 1).
    static let vocabTensor = "tokenizer.vocab_json"
    static let mergesTensor = "tokenizer.merges_txt"

    /// `value` rounded up to a multiple of `alignment`, or nil on overflow.
    static func aligned(_ value: UInt64) -> UInt64? {
        let (sum, overflow) = value.addingReportingOverflow(UInt64(alignment - 1))
        if overflow { return nil }
        return sum & ~UInt64(alignment - 1)
    }
}

extension FixedWidthInteger {
    /// The value's bytes, least significant first (the file's byte order).
    var littleEndianBytes: [UInt8] {
        (0..<(Self.bitWidth / 8)).map { UInt8(truncatingIfNeeded: self >> (8 * $0)) }
    }
}

extension Array where Element == UInt8 {
    mutating func appendLittleEndian<T: FixedWidthInteger>(_ value: T) {
        append(contentsOf: value.littleEndianBytes)
    }
}

/// Where the file came from; stored in the header.
public struct Provenance: Codable, Equatable, Sendable {
    /// File name (not path) of the converted source, e.g. `model.h5`.
    public var sourceFile: String
    /// Lower-case hex SHA-256 of the source file.
    public var sourceSHA256: String
    /// Version of the tool that wrote the file.
    public var converterVersion: String
    /// ISO 8601 UTC time of writing, e.g. `2025-01-31T12:00:00Z`.
    public var createdUTC: String

    public init(sourceFile: String, sourceSHA256: String, converterVersion: String, createdUTC: String) {
        self.sourceFile = sourceFile
        self.sourceSHA256 = sourceSHA256
        self.converterVersion = converterVersion
        self.createdUTC = createdUTC
    }

    // The raw values are the camel-case forms that JSONDecoder's convertFromSnakeCase produces
    // from `source_sha256` and `created_utc`; the acronym spelling would not round-trip.
    enum CodingKeys: String, CodingKey {
        case sourceFile
        case sourceSHA256 = "sourceSha256"
        case converterVersion
        case createdUTC = "createdUtc"
    }

    /// The current time in the form `createdUTC` uses.
    public static func nowUTC() -> String {
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: Date())
    }
}

/// The tokenizer files a model needs, stored byte for byte in the model file.
public struct TokenizerFiles: Equatable, Sendable {
    /// `vocab.json` (with the added special tokens the model uses).
    public var vocabJSON: Data
    /// `merges.txt`.
    public var merges: Data

    public init(vocabJSON: Data, merges: Data) {
        self.vocabJSON = vocabJSON
        self.merges = merges
    }
}

/// The JSON header: everything but the tensors.
struct Header: Codable, Equatable {
    var model: ModelDescription
    var provenance: Provenance
    /// The one float type of every model tensor.
    var tensorDtype: TensorDType

    static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }

    static func decoder() -> JSONDecoder {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return decoder
    }
}
