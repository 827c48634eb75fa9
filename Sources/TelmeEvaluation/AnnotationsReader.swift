import Foundation
import TelmeFiles
import TelmePipeline

/// A failure to read or evaluate an annotation folder (`telme evaluate`, `telme report`): one
/// line naming the file and, for a record, its line.
public struct EvaluationError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line of `annotations.jsonl`, when the problem is in one record.
    public var line: Int?
    public var message: String

    public init(file: String, line: Int? = nil, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        line.map { "\(file):\($0): \(message)" } ?? "\(file): \(message)"
    }
}

/// What evaluation needs of one line of `annotations.jsonl`.
public struct ScoredRecord: Sendable, Equatable {
    public var dialogue: String
    public var utterance: Int
    /// Predicted label; nil for a failed record.
    public var label: String?
    /// The record's own gold label (an empty string counts as none).
    public var gold: String?
    public var status: RecordStatus
    /// 1-based line in `annotations.jsonl`.
    public var line: Int
    /// Where the utterance is in its transcript (the record's `transcript` and `line`); nil in
    /// records of earlier versions.
    public var transcript: String?
    public var transcriptLine: Int?

    public init(dialogue: String, utterance: Int, label: String?, gold: String?, status: RecordStatus, line: Int,
                transcript: String? = nil, transcriptLine: Int? = nil) {
        self.dialogue = dialogue
        self.utterance = utterance
        self.label = label
        self.gold = gold
        self.status = status
        self.line = line
        self.transcript = transcript
        self.transcriptLine = transcriptLine
    }

    /// A record without a label, or marked failed: excluded from the scores.
    public var failed: Bool { label == nil || status == .failed }
}

/// Reads the output folder of `telme annotate`: the class order from `run.json` and the
/// records of `annotations.jsonl`, checking every line (these files may have been edited,
/// truncated by an interrupted run, or come from elsewhere).
public enum AnnotationsReader {
    /// The bytes of `file` (a regular file), or an error saying it cannot read `what`.
    static func contents(of file: String, what: String) throws(EvaluationError) -> Data {
        do throws(FileRefusal) {
            return try RegularFile.read(file)
        } catch {
            throw EvaluationError(file: file, message: "cannot read \(what): \(error.reason)")
        }
    }

    /// `model.labels` of `run.json`: the model's classes in class-index order.
    public static func labels(runJSON url: URL) throws(EvaluationError) -> [String] {
        let file = url.path
        let data = try contents(of: file, what: "the run description")
        struct Run: Decodable {
            struct Model: Decodable { var labels: [String] }
            var model: Model
        }
        let run: Run
        do {
            run = try JSONDecoder().decode(Run.self, from: data)
        } catch {
            throw EvaluationError(file: file, message: "model.labels: \(Self.describe(error))")
        }
        let labels = run.model.labels
        guard !labels.isEmpty else { throw EvaluationError(file: file, message: "model.labels is empty") }
        var seen: Set<String> = []
        for label in labels where !seen.insert(label).inserted {
            throw EvaluationError(file: file, message: "model.labels has \"\(label)\" twice")
        }
        return labels
    }

    /// Every record of an `annotations.jsonl` file; blank lines are skipped.
    ///
    /// - Parameter labels: the model's labels; a predicted label outside them is an error.
    public static func records(jsonl url: URL, labels: [String]) throws(EvaluationError) -> [ScoredRecord] {
        try distinctRecords(jsonl: url, labels: labels, keepRepeats: true).records
    }

    /// The records as `records(jsonl:labels:)` reads them, but a line that repeats an earlier
    /// line byte for byte (a record appended twice) is left out; `repeated` lists such lines
    /// with the line they repeat (1-based).
    public static func distinctRecords(jsonl url: URL, labels: [String], keepRepeats: Bool = false)
        throws(EvaluationError) -> (records: [ScoredRecord], repeated: [(line: Int, of: Int)]) {
        let file = url.path
        let data = try contents(of: file, what: "the annotations")
        let known = Set(labels)
        let decoder = JSONDecoder()
        var records: [ScoredRecord] = []
        var repeated: [(line: Int, of: Int)] = []
        // Earlier lines by their hash: (line number, byte range).
        var seen: [Int: [(Int, Range<Int>)]] = [:]
        for (lineNumber, line, last) in lines(of: data) {
            if !keepRepeats {
                var hasher = Hasher()
                line.withUnsafeBytes { hasher.combine(bytes: $0) }
                let key = hasher.finalize()
                if let earlier = seen[key]?.first(where: { data[$0.1] == line }) {
                    repeated.append((lineNumber, earlier.0))
                    continue
                }
                seen[key, default: []].append((lineNumber, line.startIndex..<line.endIndex))
            }
            let fields: RecordFields
            do {
                fields = try decoder.decode(RecordFields.self, from: line)
            } catch let error as RecordFields.Invalid {
                throw EvaluationError(file: file, line: lineNumber, message: error.message)
            } catch {
                let hint = last ? " (the last line: was the run interrupted?)" : ""
                throw EvaluationError(file: file, line: lineNumber, message: Self.describe(error) + hint)
            }
            if let label = fields.label, !known.contains(label) {
                throw EvaluationError(file: file, line: lineNumber, message:
                    "label \"\(label)\" is not one of the model's labels in run.json (\(labels.joined(separator: ", ")))")
            }
            records.append(ScoredRecord(
                dialogue: fields.dialogue, utterance: fields.utterance, label: fields.label,
                gold: fields.gold.flatMap { $0.isEmpty ? nil : $0 }, status: fields.status, line: lineNumber,
                transcript: fields.transcript, transcriptLine: fields.transcriptLine))
        }
        return (records, repeated)
    }

    /// The non-blank lines of a JSON Lines file: 1-based number, bytes (without the newline),
    /// and whether it is the file's last line.
    package static func lines(of data: Data) -> [(number: Int, bytes: Data.SubSequence, last: Bool)] {
        var out: [(number: Int, bytes: Data.SubSequence, last: Bool)] = []
        var number = 0
        // Line ends found in the raw bytes: Data's own search goes through its generic indexing.
        let newlines: [Int] = data.withUnsafeBytes { raw in raw.indices.filter { raw[$0] == UInt8(ascii: "\n") } }
        var ends = newlines.makeIterator()
        var start = data.startIndex
        while start < data.endIndex {
            number += 1
            let end = ends.next().map { data.startIndex + $0 } ?? data.endIndex
            let line = data[start..<end]
            start = end == data.endIndex ? end : end + 1
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            out.append((number, line, end == data.endIndex))
        }
        return out
    }

    /// The fields of the record schema that evaluation reads; all are required, as in the schema.
    struct RecordFields: Decodable {
        var dialogue: String
        var utterance: Int
        var label: String?
        var gold: String?
        var status: RecordStatus
        var transcript: String?
        var transcriptLine: Int?

        struct Invalid: Error { var message: String }

        enum CodingKeys: String, CodingKey { case dialogue, utterance, label, gold, status, transcript, line }

        init(from decoder: any Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            dialogue = try c.decode(String.self, forKey: .dialogue)
            do {
                utterance = try c.decode(Int.self, forKey: .utterance)
            } catch let error as DecodingError {
                if case .dataCorrupted = error { throw Invalid(message: "\"utterance\" is not an integer") }
                throw error
            } catch {
                // Foundation's own error for a number that is not an Int (1.5, 1e30); at the top
                // it would become "not valid JSON".
                throw Invalid(message: "\"utterance\" is not an integer")
            }
            guard utterance >= 0 else { throw Invalid(message: "\"utterance\" is negative (\(utterance))") }
            label = try c.decode(String?.self, forKey: .label)
            gold = try c.decode(String?.self, forKey: .gold)
            let status = try c.decode(String.self, forKey: .status)
            guard let known = RecordStatus(rawValue: status) else {
                throw Invalid(message: "\"status\" is \"\(status)\"; expected ok, degraded or failed")
            }
            self.status = known
            transcript = try? c.decodeIfPresent(String.self, forKey: .transcript)
            transcriptLine = try? c.decodeIfPresent(Int.self, forKey: .line)
        }
    }

    /// A one-line reading of a decoding error.
    static func describe(_ error: any Error) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        func kind(_ type: Any.Type) -> String {
            let name = String(describing: type)
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            switch type {
            case is String.Type, is String?.Type: return "a string"
            case is Int.Type: return "an integer"
            default: return "a \(name)"
            }
        }
        guard let error = error as? DecodingError else { return reason(error) }
        switch error {
        case .keyNotFound(let key, let context):
            let parent = path(context)
            return "no field \"\(parent.isEmpty ? key.stringValue : parent + "." + key.stringValue)\""
        case .typeMismatch(let type, let context):
            let at = path(context)
            return at.isEmpty ? "not a JSON object" : "\"\(at)\" is not \(kind(type))"
        case .valueNotFound(let type, let context):
            let at = path(context)
            return at.isEmpty ? "not a JSON object" : "\"\(at)\" is null; expected \(kind(type))"
        case .dataCorrupted(let context):
            let at = path(context)
            if !at.isEmpty { return "\"\(at)\": \(context.debugDescription)" }
            return "not valid JSON"
        @unknown default:
            return "cannot decode: \(error)"
        }
    }

    /// The system's reason for a file error, without Foundation's wrapping.
    package static func reason(_ error: any Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain,
           let code = POSIXErrorCode(rawValue: Int32(underlying.code)) {
            return String(cString: strerror(code.rawValue))
        }
        if ns.domain == NSCocoaErrorDomain, ns.code == NSFileReadNoSuchFileError { return "no such file" }
        return ns.localizedDescription
    }
}
