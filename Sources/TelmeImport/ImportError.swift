import Foundation
import TelmeFiles
import TelmeFormat

/// Why an HDF5 export cannot become a `.telme` model: one line naming the file, the place in
/// it (a dataset such as `/teacher/W.weight`, an attribute such as `/teacher@config`, a config
/// field) and the reason.
public struct ImportError: Error, CustomStringConvertible, LocalizedError, Equatable, Sendable {
    /// The HDF5 file's path as given.
    public var file: String
    /// Where in the file, if the problem has a place.
    public var place: String?
    public var reason: String

    public init(file: String, place: String? = nil, _ reason: String) {
        self.file = file
        self.place = place
        self.reason = reason
    }

    public var description: String {
        let text = if let place { "\(file): \(place): \(reason)" } else { "\(file): \(reason)" }
        return text.oneLine
    }

    public var errorDescription: String? { description }
}

/// Typed access to the fields of an HF `config.json`, with the HF class defaults for fields a
/// config may omit; every failure names the file, the attribute and the field.
struct HFConfig {
    let file: String
    /// Where the config lives in the HDF5 file, e.g. `/teacher@config`.
    let place: String
    let fields: [String: JSONValue]

    init(json: String, file: String, place: String) throws {
        self.file = file
        self.place = place
        let value: JSONValue
        do {
            value = try JSONDecoder().decode(JSONValue.self, from: Data(json.utf8))
        } catch {
            throw ImportError(file: file, place: place, "is not valid JSON")
        }
        guard case .object(let fields) = value else {
            throw ImportError(file: file, place: place, "is not a JSON object")
        }
        self.fields = fields
    }

    func fail(_ key: String, _ reason: String) -> ImportError {
        ImportError(file: file, place: place, "field \(key) \(reason)")
    }

    /// The field, or nil when it is absent (HF then uses its default). A null is kept: HF
    /// would set the attribute to None, which no encoder accepts.
    private func value(_ key: String) -> JSONValue? {
        fields[key]
    }

    /// The field `key` as `convert` reads it, or `fallback` when the field is absent; refused
    /// when it is missing without a fallback, or of a kind `convert` does not take (nil),
    /// described as `expected`.
    private func field<T>(_ key: String, _ fallback: T?, expected: String, _ convert: (JSONValue) -> T?) throws -> T {
        guard let value = value(key) else {
            guard let fallback else { throw fail(key, "is missing") }
            return fallback
        }
        guard let converted = convert(value) else { throw fail(key, "is \(value.summary), expected \(expected)") }
        return converted
    }

    /// A JSON integer, or a float with an integral value.
    private static func integer(_ value: JSONValue) -> Int? {
        switch value {
        case .int(let v): v
        case .double(let v) where v.rounded() == v && abs(v) < 1e15: Int(v)
        default: nil
        }
    }

    func int(_ key: String, default fallback: Int? = nil) throws -> Int {
        try field(key, fallback, expected: "an integer", Self.integer)
    }

    func double(_ key: String, default fallback: Double? = nil) throws -> Double {
        try field(key, fallback, expected: "a number") { value in
            switch value {
            case .int(let v): Double(v)
            case .double(let v): v
            default: nil
            }
        }
    }

    func bool(_ key: String, default fallback: Bool? = nil) throws -> Bool {
        try field(key, fallback, expected: "true or false") { if case .bool(let v) = $0 { v } else { nil } }
    }

    func string(_ key: String, default fallback: String? = nil) throws -> String {
        try field(key, fallback, expected: "a string") { if case .string(let v) = $0 { v } else { nil } }
    }

    func ints(_ key: String, default fallback: [Int]? = nil) throws -> [Int] {
        try field(key, fallback, expected: "a list of integers") { value in
            guard case .array(let values) = value else { return nil }
            let ints = values.compactMap(Self.integer)
            return ints.count == values.count ? ints : nil
        }
    }

    /// A string field that must be one of `supported` (which the model code implements).
    func choice(_ key: String, default fallback: String, supported: [String]) throws -> String {
        let value = try string(key, default: fallback)
        guard supported.contains(value) else {
            let list = supported.map { "\"\($0)\"" }.joined(separator: " or ")
            throw fail(key, "is \"\(value)\"; only \(list) is supported")
        }
        return value
    }

    /// Refuses a field that is present with a value other than `expected`.
    func require(_ key: String, equals expected: Bool) throws {
        if try bool(key, default: expected) != expected {
            throw fail(key, "is \(!expected); only \(expected) is supported")
        }
    }
}
