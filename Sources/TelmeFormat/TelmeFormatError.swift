import Foundation

/// Why a `.telme` file was refused (or could not be written), in one line:
/// `<path>: <what> at <where>`, where `<where>` names a byte offset, a tensor or both.
public struct TelmeFormatError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The class of failure, for code that reacts to it; the message is for people.
    public enum Kind: String, Sendable, Equatable {
        case io
        case truncated
        case badMagic
        case unsupportedVersion
        case badPreamble
        case headerTooLarge
        case headerChecksum
        case badHeader
        case badModel
        case badTable
        case unknownDType
        case badOffset
        case misaligned
        case overlap
        case duplicateTensor
        case unknownTensor
        case missingTensor
        case shapeMismatch
        case dtypeMismatch
        case dataChecksum
        case nonFiniteWeight
        case write
    }

    /// The file concerned.
    public var path: String
    public var kind: Kind
    /// What is wrong.
    public var what: String
    /// Where: `byte N`, `tensor NAME`, `tensor NAME (table byte N)`; nil when the whole file is meant.
    public var location: String?

    public init(path: String, kind: Kind, what: String, location: String? = nil) {
        self.path = path
        self.kind = kind
        self.what = what
        self.location = location
    }

    public var description: String {
        if let location { return "\(path): \(what) at \(location)" }
        return "\(path): \(what)"
    }
}

extension TelmeFormatError: LocalizedError {
    public var errorDescription: String? { description }
}
