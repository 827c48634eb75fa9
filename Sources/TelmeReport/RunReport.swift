import Foundation
import TelmeFiles
import TelmeFormat
import TelmeCorpus
import TelmeEvaluation

/// What `telme report` shows of an annotation folder, computed here (and tested) so that the
/// page's script only draws: the records grouped by dialogue, the class distribution overall and
/// per speaker, the modality status counts, `telme evaluate`'s scores when gold labels exist, and
/// the provenance of `run.json`.
///
/// The folder is read as loosely as it can be while still being the folder of `telme annotate`:
/// `run.json` must hold `model.labels`; each line of `annotations.jsonl` must be a JSON object
/// with a dialogue; every other field is optional (a record from an older or newer version still
/// shows). Probabilities are kept in thousandths (the page shows one decimal of a percent).
public struct RunReport: Sendable, Encodable {
    /// One utterance, encoded as a JSON array to keep a 10,000-utterance page small:
    /// `[speaker, start, end, label, gold, status, permille, text, media, message]`.
    public struct Utterance: Sendable, Encodable, Equatable {
        /// Index into `RunReport.speakers`.
        public var speaker: Int
        public var start: Double?
        public var end: Double?
        /// Index into `classes`; -1 when the record has no label (failed).
        public var label: Int
        /// Index into `classes`; -1 without gold.
        public var gold: Int
        /// 0 ok, 1 degraded, 2 failed.
        public var status: Int
        /// Probability of every model class, in thousandths (rounded).
        public var permille: [Int]
        public var text: String
        /// The text, audio and video statuses, e.g. "ok ok missing".
        public var media: String
        public var message: String

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.unkeyedContainer()
            try c.encode(speaker)
            try c.encode(start.flatMap { $0.isFinite ? $0 : nil })
            try c.encode(end.flatMap { $0.isFinite ? $0 : nil })
            try c.encode(label)
            try c.encode(gold)
            try c.encode(status)
            try c.encode(permille)
            try c.encode(text)
            try c.encode(media)
            try c.encode(message)
        }
    }

    public struct Dialogue: Sendable, Encodable, Equatable {
        public var id: String
        /// The first record's source (the episode, or the clip of its first utterance).
        public var source: String
        public var utterances: [Utterance]
    }

    /// Predicted and gold counts per class, in `classes` order.
    public struct Distribution: Sendable, Encodable, Equatable {
        public var name: String
        public var utterances: Int
        public var predicted: [Int]
        public var gold: [Int]
    }

    public var title: String
    /// The model's labels (`run.json`), then gold labels the model does not have.
    public var classes: [String]
    /// How many of `classes` the model predicts (the first ones).
    public var modelClasses: Int
    public var speakers: [String]
    public var dialogues: [Dialogue]
    public var overall: Distribution
    /// The speakers with the most utterances (at most `speakerRows`), then "(N others)".
    public var perSpeaker: [Distribution]
    /// `media[medium][status]`: text, audio, video x ok, missing, zeroed, error (and any other).
    public var media: [String: [String: Int]]
    /// Records by status: ok, degraded, failed.
    public var records: [String: Int]
    /// `telme evaluate`'s result, when any record (or `--gold`) gives gold labels.
    public var evaluation: Evaluation?
    /// Why there is no evaluation although gold labels exist (evaluate's error).
    public var evaluationError: String?
    /// `run.json` flattened to (key path, value) rows.
    public var provenance: [[String]]

    public static let speakerRows = 30

    /// Reads `run.json` and `annotations.jsonl` of `directory`; evaluates with `Evaluation`
    /// when gold labels exist (`goldCSV` as `telme evaluate --gold`).
    public init(directory: URL, title: String? = nil, goldCSV: URL? = nil) throws {
        let runURL = directory.appendingPathComponent("run.json")
        let run = try Self.readRun(runURL)
        let labels = try Self.labels(of: run, file: runURL.path)
        let jsonl = directory.appendingPathComponent("annotations.jsonl")
        var tally = Tally(labels: labels)
        for r in try Self.readRecords(jsonl) { tally.add(r) }

        let all = tally.dialogues.flatMap(\.utterances)
        self.title = title ?? "telme report: \(directory.lastPathComponent)"
        self.classes = tally.classes
        self.modelClasses = labels.count
        self.speakers = tally.speakers
        self.dialogues = tally.dialogues
        self.overall = Self.distribution("all", all, classCount: tally.classes.count)
        self.perSpeaker = Self.perSpeaker(all, speakers: tally.speakers, classCount: tally.classes.count)
        self.media = tally.media
        self.records = tally.statusCounts
        self.provenance = Self.flatten(run)
        if tally.hasGold || goldCSV != nil {
            do {
                evaluation = try Evaluation.evaluate(directory: directory, goldCSV: goldCSV)
            } catch {
                evaluationError = "\(error)"
            }
        }
    }

    /// The records read so far: grouped by dialogue, speakers and gold classes numbered in order
    /// of appearance, statuses counted.
    private struct Tally {
        let labels: [String]
        var classes: [String]
        var classIndex: [String: Int]
        var speakerIndex: [String: Int] = [:]
        var speakers: [String] = []
        var dialogues: [Dialogue] = []
        var dialoguePosition: [String: Int] = [:]
        var media: [String: [String: Int]] = ["text": [:], "audio": [:], "video": [:]]
        var statusCounts: [String: Int] = ["ok": 0, "degraded": 0, "failed": 0]
        var hasGold = false

        init(labels: [String]) {
            self.labels = labels
            classes = labels
            classIndex = Dictionary(labels.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        }

        /// The class of a gold label, a new one after the model's when the model lacks it.
        mutating func index(ofGold name: String) -> Int {
            if let i = classIndex[name] { return i }
            classes.append(name)
            classIndex[name] = classes.count - 1
            return classes.count - 1
        }

        mutating func index(ofSpeaker speaker: String) -> Int {
            if let known = speakerIndex[speaker] { return known }
            speakers.append(speaker)
            speakerIndex[speaker] = speakers.count - 1
            return speakers.count - 1
        }

        mutating func add(_ r: RawRecord) {
            let s = index(ofSpeaker: r.string("speaker") ?? "")
            let status = r.string("status") ?? "ok"
            statusCounts[status, default: 0] += 1
            var statuses: [String] = []
            for medium in ["text", "audio", "video"] {
                let value = r.string("\(medium)_status") ?? "missing"
                media[medium, default: [:]][value, default: 0] += 1
                statuses.append(value)
            }
            let gold = r.string("gold").flatMap { $0.isEmpty ? nil : $0 }
            if gold != nil { hasGold = true }
            let labels = labels
            let label = r.string("label").flatMap { classIndex[$0] }.flatMap { $0 < labels.count ? $0 : nil }
            let permille = labels.map { name -> Int in
                guard let p = r.number("p_\(name)"), p.isFinite else { return 0 }
                return Int((min(max(p, 0), 1) * 1000).rounded())
            }
            let utterance = Utterance(
                speaker: s, start: r.number("start"), end: r.number("end"),
                label: status == "failed" ? -1 : (label ?? -1), gold: gold.map { index(ofGold: $0) } ?? -1,
                status: status == "ok" ? 0 : status == "degraded" ? 1 : 2, permille: permille,
                text: r.string("text") ?? "", media: statuses.joined(separator: " "), message: r.string("message") ?? "")
            let id = r.string("dialogue") ?? ""
            if let at = dialoguePosition[id] {
                dialogues[at].utterances.append(utterance)
            } else {
                dialoguePosition[id] = dialogues.count
                dialogues.append(Dialogue(id: id, source: r.string("source") ?? "", utterances: [utterance]))
            }
        }
    }

    /// Predicted and gold counts of `utterances` per class.
    static func distribution(_ name: String, _ utterances: [Utterance], classCount: Int) -> Distribution {
        var predicted = Array(repeating: 0, count: classCount)
        var gold = Array(repeating: 0, count: classCount)
        for u in utterances {
            if u.label >= 0 { predicted[u.label] += 1 }
            if u.gold >= 0 { gold[u.gold] += 1 }
        }
        return Distribution(name: name, utterances: utterances.count, predicted: predicted, gold: gold)
    }

    /// The speakers with the most utterances (ties in order of appearance), at most
    /// `speakerRows`, then the rest as one row.
    static func perSpeaker(_ all: [Utterance], speakers: [String], classCount: Int) -> [Distribution] {
        var bySpeaker = Array(repeating: [Utterance](), count: speakers.count)
        for u in all { bySpeaker[u.speaker].append(u) }
        let ranked = bySpeaker.indices.sorted { (bySpeaker[$0].count, -$0) > (bySpeaker[$1].count, -$1) }
        var rows = ranked.prefix(speakerRows).map { distribution(speakers[$0], bySpeaker[$0], classCount: classCount) }
        let rest = ranked.dropFirst(speakerRows)
        if !rest.isEmpty {
            rows.append(distribution("(\(rest.count) others)", rest.flatMap { bySpeaker[$0] }, classCount: classCount))
        }
        return rows
    }

    /// The whole page.
    public func html() throws -> String {
        ReportPage.html(title: title, payload: try payloadJSON())
    }

    /// The data the page draws, as JSON safe inside a `<script>` element: `<`, `>` and `&`
    /// (which JSON only has inside strings) become `\u003c`, `\u003e`, `\u0026`, so no record
    /// text can close the element or open a comment.
    func payloadJSON() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(self), as: UTF8.self)
        return json.escaped { scalar in
            switch scalar {
            case "<": "\\u003c"
            case ">": "\\u003e"
            case "&": "\\u0026"
            case "\u{2028}": "\\u2028"
            case "\u{2029}": "\\u2029"
            default: nil
            }
        }
    }

    enum CodingKeys: String, CodingKey {
        case title, classes, modelClasses, speakers, dialogues, overall, perSpeaker, media, records, evaluation,
             evaluationError, provenance
    }

    // MARK: reading

    /// One record of `annotations.jsonl` as a JSON object.
    struct RawRecord {
        var object: [String: JSONValue]

        func string(_ key: String) -> String? {
            if case .string(let s)? = object[key] { return s }
            return nil
        }

        func number(_ key: String) -> Double? {
            switch object[key] {
            case .int(let n)?: return Double(n)
            case .double(let x)?: return x
            default: return nil
            }
        }
    }

    static func readRun(_ url: URL) throws -> [String: JSONValue] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw EvaluationError(file: url.path, message: "cannot read the run description: \(AnnotationsReader.reason(error))")
        }
        guard case .object(let object)? = try? JSONDecoder().decode(JSONValue.self, from: data) else {
            throw EvaluationError(file: url.path, message: "not a JSON object")
        }
        return object
    }

    static func labels(of run: [String: JSONValue], file: String) throws -> [String] {
        guard case .object(let model)? = run["model"], case .array(let values)? = model["labels"] else {
            throw EvaluationError(file: file, message: "no model.labels (a list of the model's classes)")
        }
        let labels = values.compactMap { value -> String? in
            if case .string(let s) = value { return s }
            return nil
        }
        guard !labels.isEmpty, labels.count == values.count else {
            throw EvaluationError(file: file, message: "model.labels must be a non-empty list of strings")
        }
        return labels
    }

    static func readRecords(_ url: URL) throws -> [RawRecord] {
        let data: Data
        do {
            data = try Data(contentsOf: url)
        } catch {
            throw EvaluationError(file: url.path, message: "cannot read the annotations: \(AnnotationsReader.reason(error))")
        }
        let decoder = JSONDecoder()
        var records: [RawRecord] = []
        for (lineNumber, line, last) in AnnotationsReader.lines(of: data) {
            guard case .object(let object)? = try? decoder.decode(JSONValue.self, from: line) else {
                let hint = last ? " (the last line: was the run interrupted?)" : ""
                throw EvaluationError(file: url.path, line: lineNumber, message: "not a JSON object\(hint)")
            }
            guard case .string? = object["dialogue"] else {
                throw EvaluationError(file: url.path, line: lineNumber, message: "no \"dialogue\" string")
            }
            records.append(RawRecord(object: object))
        }
        return records
    }

    /// `run.json` as rows of (dotted key path, value); arrays of scalars are joined with spaces.
    static func flatten(_ object: [String: JSONValue], prefix: String = "") -> [[String]] {
        var rows: [[String]] = []
        for key in object.keys.sorted() {
            let path = prefix.isEmpty ? key : "\(prefix).\(key)"
            switch object[key]! {
            case .object(let nested):
                rows += flatten(nested, prefix: path)
            case .array(let list):
                if list.allSatisfy({ scalar($0) != nil }) {
                    rows.append([path, list.compactMap(scalar).joined(separator: " ")])
                } else {
                    for (i, item) in list.enumerated() {
                        if case .object(let nested) = item {
                            rows += flatten(nested, prefix: "\(path)[\(i)]")
                        } else {
                            rows.append(["\(path)[\(i)]", scalar(item) ?? item.summary])
                        }
                    }
                }
            case let value:
                rows.append([path, scalar(value) ?? value.summary])
            }
        }
        return rows
    }

    /// A scalar as text (a string without quotes); nil for arrays and objects.
    static func scalar(_ value: JSONValue) -> String? {
        switch value {
        case .string(let s): s
        case .array, .object: nil
        default: value.summary
        }
    }
}
