import Foundation
import Testing
import TelmeTestSupport

/// Every record `telme annotate` writes is valid against Schemas/annotation-record.schema.json,
/// checked by a small validator of the JSON Schema keywords that schema uses.
@Suite struct RecordSchemaTests {
    static let schemaURL = TestPaths.repository.appendingPathComponent("Schemas/annotation-record.schema.json")

    static func schema() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: schemaURL)) as! [String: Any]
    }

    /// The problems of `value` against `schema` (empty when valid). Supports type, enum,
    /// required, properties, patternProperties, additionalProperties: false, minimum, maximum
    /// and local `$ref`s, which is what the record schema uses.
    static func problems(_ value: Any, _ schema: [String: Any], root: [String: Any], at path: String) -> [String] {
        var schema = schema
        if let ref = schema["$ref"] as? String, ref.hasPrefix("#/$defs/"),
           let defs = root["$defs"] as? [String: Any], let target = defs[String(ref.dropFirst(8))] as? [String: Any] {
            schema = target
        }
        var found: [String] = []
        if let types = schema["type"] {
            let allowed = (types as? [String]) ?? [types as! String]
            if !allowed.contains(where: { matches(value, type: $0) }) {
                found.append("\(path): \(value) is not of type \(allowed)")
            }
        }
        if let options = schema["enum"] as? [String], !options.contains(value as? String ?? "\u{0}") {
            found.append("\(path): \(value) is not one of \(options)")
        }
        if let number = (value as? NSNumber)?.doubleValue {
            if let minimum = schema["minimum"] as? Double, number < minimum { found.append("\(path): \(number) < \(minimum)") }
            if let maximum = schema["maximum"] as? Double, number > maximum { found.append("\(path): \(number) > \(maximum)") }
        }
        if let object = value as? [String: Any] {
            for key in schema["required"] as? [String] ?? [] where object[key] == nil {
                found.append("\(path): missing \(key)")
            }
            let properties = schema["properties"] as? [String: Any] ?? [:]
            let patterns = schema["patternProperties"] as? [String: Any] ?? [:]
            for (key, member) in object {
                if let sub = properties[key] as? [String: Any] {
                    found += problems(member, sub, root: root, at: "\(path).\(key)")
                } else if let (_, sub) = patterns.first(where: { key.range(of: $0.key, options: .regularExpression) != nil }) {
                    found += problems(member, sub as! [String: Any], root: root, at: "\(path).\(key)")
                } else if schema["additionalProperties"] as? Bool == false {
                    found.append("\(path): unexpected key \(key)")
                }
            }
        }
        return found
    }

    static func matches(_ value: Any, type: String) -> Bool {
        switch type {
        case "null": value is NSNull
        case "string": value is String
        // The schema has no booleans, so numbers need not be told from them here.
        case "integer": (value as? NSNumber).map { $0.doubleValue.rounded() == $0.doubleValue } ?? false
        case "number": value is NSNumber
        case "object": value is [String: Any]
        default: false
        }
    }

    /// Expects every record of `out/annotations.jsonl` to be valid against the schema.
    static func expectValid(_ out: URL, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let schema = try Self.schema()
        let text = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
        for (k, line) in text.split(separator: "\n").enumerated() {
            let found = Self.problems(try JSONSerialization.jsonObject(with: Data(line.utf8)), schema, root: schema,
                                      at: "record \(k)")
            #expect(found.isEmpty, "\(found)", sourceLocation: sourceLocation)
        }
    }

    @Test func validatorRejectsBadRecords() throws {
        let schema = try Self.schema()
        let bad: [String: Any] = ["source": 3, "status": "fine", "p_joy": 2.0, "extra": true]
        let found = Self.problems(bad, schema, root: schema, at: "$")
        #expect(found.contains { $0.contains(".source") && $0.contains("type") })
        #expect(found.contains { $0.contains(".status") })
        #expect(found.contains { $0.contains(".p_joy") && $0.contains(">") })
        #expect(found.contains { $0.contains("unexpected key extra") })
        #expect(found.contains { $0.contains("missing label") })
        #expect(found.contains { $0.contains("missing cue") })
        let badModality: [String: Any] = ["audio_status": "unknown", "text_p_joy": 1.5]
        let more = Self.problems(badModality, schema, root: schema, at: "$")
        #expect(more.contains { $0.contains(".audio_status") })
        #expect(more.contains { $0.contains(".text_p_joy") && $0.contains(">") })
    }

    @Test func annotateOutputIsValid() async throws {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        do {
            try await AnnotateTests.telme(["annotate", "--model", AnnotateMediaTests.model.path,
                                           "--corpus", AnnotateMediaTests.corpus, "--media", AnnotateMediaTests.clips,
                                           "--out", out.path])
        } catch {}  // exit status 1: some records are degraded on purpose
        let schema = try Self.schema()
        let lines = try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n")
        #expect(lines.count == 11)
        for line in lines {
            let record = try JSONSerialization.jsonObject(with: Data(line.utf8))
            let found = Self.problems(record, schema, root: schema, at: "$")
            #expect(found.isEmpty, "\(found)")
        }
        // The CSV's columns are the schema's keys in the documented order.
        let header = try String(contentsOf: out.appendingPathComponent("annotations.csv"), encoding: .utf8)
            .split(separator: "\r\n").first.map(String.init) ?? ""
        let required = schema["required"] as! [String]
        let columns = header.split(separator: ",").map(String.init).filter { !$0.hasPrefix("p_") }
        #expect(columns == required)
        // Every key of a record is in the schema's table of columns.
        let table = try String(contentsOf: Self.schemaURL.deletingLastPathComponent().appendingPathComponent("annotation-columns.md"),
                               encoding: .utf8)
        let named = table.split(separator: "\n").filter { $0.hasPrefix("| `") }.map { $0.split(separator: "|")[0] }
        for key in required {
            #expect(named.contains { $0.contains("`\(key)`") }, "\(key) in the first column of annotation-columns.md")
        }
    }
}
