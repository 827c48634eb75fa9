import Foundation
import TelmeFiles

/// Serialises annotation records as CSV rows (RFC 4180) and JSON objects, byte for byte the
/// same on every machine and locale: numbers are written by Swift's shortest round-trip
/// `description`, which always uses "." and never depends on the locale.
public enum RecordFormat {
    /// The CSV header line, CRLF-terminated; `modalityProbabilities` adds each model's own
    /// probabilities (`text_p_<label>`, …), which JSON records always hold.
    public static func csvHeader(labels: [String], modalityProbabilities: Bool = false) -> String {
        AnnotationRecord.columns(labels: labels, modalityProbabilities: modalityProbabilities)
            .map(csvField).joined(separator: ",") + "\r\n"
    }

    /// One CSV row, CRLF-terminated. Missing values are empty fields.
    public static func csvRow(_ record: AnnotationRecord, labels: [String], modalityProbabilities: Bool = false) -> String {
        record.fields(labels: labels, modalityProbabilities: modalityProbabilities)
            .map { csvField(text($0.value) ?? "") }.joined(separator: ",") + "\r\n"
    }

    /// One JSON object on one line (no trailing newline). Missing values are `null`.
    public static func jsonObject(_ record: AnnotationRecord, labels: [String]) -> String {
        var parts: [String] = []
        for (name, value) in record.fields(labels: labels) {
            let encoded: String
            switch value {
            case .string(let s): encoded = s.map(jsonString) ?? "null"
            case .int, .double, .float: encoded = text(value) ?? "null"
            }
            parts.append(jsonString(name) + ":" + encoded)
        }
        return "{" + parts.joined(separator: ",") + "}"
    }

    /// A field quoted when RFC 4180 needs it (a quote, comma, CR or LF), quotes doubled.
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "\"" || $0 == "," || $0 == "\n" || $0 == "\r" || $0 == "\r\n" }) else {
            return s
        }
        return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    /// A JSON string literal: quotes, backslashes and control characters escaped.
    static func jsonString(_ s: String) -> String {
        let escaped = s.escaped { scalar in
            switch scalar {
            case "\"": "\\\""
            case "\\": "\\\\"
            case "\n": "\\n"
            case "\r": "\\r"
            case "\t": "\\t"
            case _ where scalar.value < 0x20:
                "\\u" + String(repeating: "0", count: 4 - String(scalar.value, radix: 16).count)
                    + String(scalar.value, radix: 16)
            default: nil
            }
        }
        return "\"" + escaped + "\""
    }

    /// The text of a scalar value; nil when absent. Non-finite numbers are absent.
    static func text(_ value: FieldValue) -> String? {
        switch value {
        case .string(let s): s
        case .int(let i): String(i)
        case .double(let d): d.flatMap { $0.isFinite ? String($0) : nil }
        case .float(let f): f.flatMap { $0.isFinite ? String($0) : nil }
        }
    }
}
