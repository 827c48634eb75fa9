import Foundation
import TelmeFiles

/// The output formats of an annotation run.
public enum OutputFormat: String, Sendable, CaseIterable, Codable {
    /// `annotations.jsonl`: one JSON record per line.
    case jsonl
    /// `annotations.csv`: RFC 4180, one row per record.
    case csv
    /// `json/<group>.json`: one JSON document per episode (episodes layout) or per dialogue
    /// (CSV corpora), `{"group": ..., "labels": [...], "records": [...]}`.
    case json
}

/// One unit's records, rendered: what `OutputWriter` puts on disk.
public struct RenderedUnit: Sendable {
    public var statuses: [RecordStatus]
    /// One JSON object per record (`RecordFormat.jsonObject`); needed for `jsonl` and `json`.
    public var jsonObjects: [String]?
    /// The CSV rows, CRLF-terminated; needed for `csv`.
    public var csvRows: [UInt8]?

    public init(statuses: [RecordStatus], jsonObjects: [String]?, csvRows: [UInt8]?) {
        self.statuses = statuses
        self.jsonObjects = jsonObjects
        self.csvRows = csvRows
    }

    /// `modalityProbabilities`: the CSV rows hold each model's own probabilities too.
    public init(_ records: [AnnotationRecord], labels: [String], modalityProbabilities: Bool = false) {
        statuses = records.map(\.status)
        jsonObjects = records.map { RecordFormat.jsonObject($0, labels: labels) }
        csvRows = Array(records.map {
            RecordFormat.csvRow($0, labels: labels, modalityProbabilities: modalityProbabilities)
        }.joined().utf8)
    }
}

/// Writes a run's records unit by unit, so that a run killed at any moment (SIGKILL included)
/// loses at most the unit it was writing, and a resumed run produces the same bytes as one
/// that was never stopped.
///
/// A unit goes to disk in this order: its records are appended to `annotations.jsonl` /
/// `annotations.csv` and synced; the `json` documents it touches are rewritten whole through a
/// temporary file and a rename (a document holds its group's records so far); then a line in
/// `units.jsonl` (`UnitJournal`) commits it. On resume the append files are cut back to the
/// end of the last committed unit. Only files directly in `directory` and `directory/json`
/// are written, and document names come from `RunPlan.fileNames(for:)`.
public final class OutputWriter {
    public let directory: URL
    public let labels: [String]
    public let formats: [OutputFormat]
    public let plan: RunPlan
    /// The CSV has each model's own probabilities (`text_p_<label>`, …) too.
    public let modalityProbabilities: Bool
    /// Points in the writing of a unit, for `checkpoint`.
    public enum Checkpoint: String, Sendable {
        /// Half of the unit's bytes of the first append file are written.
        case partial
        /// The unit is on disk but not yet committed.
        case written
        /// The unit is committed.
        case committed
    }
    /// Called at each `Checkpoint` of every unit (the CLI's crash test hook uses it).
    public var checkpoint: ((Checkpoint) -> Void)?
    /// Whether each unit is synced to the disk before it is committed (a run: a crash or power
    /// loss keeps every committed unit). `telme merge`, which can simply be run again, turns it
    /// off and syncs once in `finish()`.
    public var syncEachUnit = true
    /// The units committed so far (an earlier run's, then this one's), in order.
    public private(set) var done: [UnitEntry] = []

    private let journal: UnitJournal
    private var files: [(format: OutputFormat, file: AppendFile)] = []
    /// The `json` group that the next unit may continue, with its records so far.
    private var pending: (group: Int, objects: [String])?
    private var started = false

    /// Opens `directory` (creating it) and locks it against other runs; nothing is changed
    /// until `start(fresh:)`.
    public init(directory: URL, labels: [String], formats: [OutputFormat], plan: RunPlan,
                modalityProbabilities: Bool = false) throws {
        self.directory = directory
        self.labels = labels
        self.formats = formats
        self.plan = plan
        self.modalityProbabilities = modalityProbabilities
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        journal = try UnitJournal(directory: directory)
    }

    /// The file of one format in `directory`.
    public static func url(_ directory: URL, _ format: OutputFormat) -> URL {
        directory.appendingPathComponent("annotations.\(format.rawValue)")
    }

    /// The `json` document folder of `directory`.
    public static func documentFolder(_ directory: URL) -> URL { directory.appendingPathComponent("json") }

    /// Starts writing: `fresh` empties the files (and removes the `json` documents of an earlier
    /// run); otherwise the committed units are read from `units.jsonl` and the files cut back
    /// to their end. Returns the units already done.
    @discardableResult
    public func start(fresh: Bool) throws -> [UnitEntry] {
        precondition(!started, "start(fresh:) is called once")
        started = true
        let documents = Self.documentFolder(directory)
        if formats.contains(.json) {
            try FileManager.default.createDirectory(at: documents, withIntermediateDirectories: true)
            let attributes = try FileManager.default.attributesOfItem(atPath: documents.path)  // lstat
            guard attributes[.type] as? FileAttributeType == .typeDirectory else {
                throw PipelineError(.outputFolder, path: documents.path, "not a folder (a link is not followed)")
            }
        }
        for format in formats where format != .json {
            files.append((format, try AppendFile(Self.url(directory, format))))
        }
        if fresh {
            try journal.reset()
            for (format, file) in files {
                try file.truncate(to: 0)
                try file.append(header(format))
                try file.sync()
            }
            if formats.contains(.json) { try removeDocuments(in: documents) }
            try syncFolder(directory)
            done = []
            return done
        }
        done = try journal.read()
        for entry in done { try journal.check(entry, fits: plan) }
        try cutFilesToDone()
        if formats.contains(.json), let last = done.last { try readPendingDocument(after: last, in: documents) }
        return done
    }

    /// Cuts each record file back to the end of the last unit done, after checking that it
    /// holds that much and starts with this run's header.
    private func cutFilesToDone() throws {
        for (format, file) in files {
            let end = done.last.map { $0.range(format)?.upperBound ?? -1 } ?? header(format).count
            guard end >= 0, file.size >= end else {
                throw PipelineError(.changedFolder, path: file.url.path,
                                    "shorter than \(UnitJournal.fileName) says (\(file.size) bytes, "
                                    + "\(end) committed); the folder was changed (--overwrite starts again)")
            }
            let head = header(format)
            guard try file.read(0..<min(head.count, file.size)) == head else {
                throw PipelineError(.changedFolder, path: file.url.path,
                                    "its header is not this run's (--overwrite starts again)")
            }
            try file.truncate(to: end)
        }
    }

    /// When the last unit done ends inside a group, the records its `json` document already
    /// holds: the next unit's are added to them.
    private func readPendingDocument(after last: UnitEntry, in documents: URL) throws {
        let end = last.first + last.count
        let group = plan.groupOfUtterance[end - 1]
        let range = plan.groups[group].range
        guard end < range.upperBound else { return }
        let objects = try Self.documentRecords(in: documents.appendingPathComponent(plan.groups[group].fileName))
        guard objects.count >= end - range.lowerBound else {
            throw PipelineError(.changedFolder, path: plan.groups[group].fileName,
                                "holds \(objects.count) records, "
                                + "\(end - range.lowerBound) were committed (--overwrite starts again)")
        }
        pending = (group, Array(objects.prefix(end - range.lowerBound)))
    }

    /// Writes and commits the records of unit `unit` (an index into `plan.units`).
    public func write(unit: Int, records: [AnnotationRecord]) throws {
        try write(unit: unit, RenderedUnit(records, labels: labels, modalityProbabilities: modalityProbabilities))
    }

    /// Writes and commits one rendered unit.
    public func write(unit: Int, _ rendered: RenderedUnit) throws {
        precondition(started, "start(fresh:) comes first")
        let range = plan.units[unit]
        guard rendered.statuses.count == range.count, rendered.jsonObjects.map({ $0.count == range.count }) ?? true else {
            throw PipelineError(.internalError,
                                "unit \(unit): \(rendered.jsonObjects?.count ?? rendered.statuses.count) records for "
                                + "\(range.count) utterances")
        }
        var entry = UnitEntry(unit: unit, first: range.lowerBound, count: range.count, status: rendered.statuses)
        for (n, (format, file)) in files.enumerated() {
            let bytes: [UInt8]
            switch format {
            case .csv:
                guard let rows = rendered.csvRows else {
                    throw PipelineError(.internalError, "unit \(unit): no CSV rows")
                }
                bytes = rows
            default:
                guard let objects = rendered.jsonObjects else {
                    throw PipelineError(.internalError, "unit \(unit): no JSON records")
                }
                bytes = Array(objects.map { $0 + "\n" }.joined().utf8)
            }
            let start = file.size
            if n == 0, let checkpoint {
                try file.append(bytes.prefix(bytes.count / 2))
                checkpoint(.partial)
                try file.append(bytes.dropFirst(bytes.count / 2))
            } else {
                try file.append(bytes)
            }
            if syncEachUnit { try file.sync() }
            if format == .csv { entry.csv = [start, file.size] } else { entry.jsonl = [start, file.size] }
        }
        if formats.contains(.json) {
            guard let objects = rendered.jsonObjects else {
                throw PipelineError(.internalError, "unit \(unit): no JSON records")
            }
            // Documents this unit adds records to; all but the last are complete now.
            var touched: [(group: Int, objects: [String])] = []
            var added = false
            for (k, object) in objects.enumerated() {
                let group = plan.groupOfUtterance[range.lowerBound + k]
                if pending?.group != group {
                    if let previous = pending, added { touched.append(previous) }
                    pending = (group, [])
                }
                pending?.objects.append(object)
                added = true
            }
            if let pending, added { touched.append(pending) }
            for (group, objects) in touched { try writeDocument(group: group, objects: objects) }
        }
        checkpoint?(.written)
        try journal.commit(entry, sync: syncEachUnit)
        done.append(entry)
        checkpoint?(.committed)
    }

    private func header(_ format: OutputFormat) -> [UInt8] {
        format == .csv ? Array(RecordFormat.csvHeader(labels: labels, modalityProbabilities: modalityProbabilities).utf8) : []
    }

    /// The document of a group: `{"group": ..., "labels": [...], "records": [...]}`, one record
    /// per line.
    private func writeDocument(group: Int, objects: [String]) throws {
        let body = objects.map { "    " + $0 }.joined(separator: ",\n")
        let labelList = labels.map(RecordFormat.jsonString).joined(separator: ",")
        let text = "{\n  \"group\": \(RecordFormat.jsonString(plan.groups[group].name)),\n  \"labels\": [\(labelList)],\n"
            + "  \"records\": [\n\(body)\n  ]\n}\n"
        try writeAtomically(Array(text.utf8),
                            to: Self.documentFolder(directory).appendingPathComponent(plan.groups[group].fileName),
                            sync: syncEachUnit)
    }

    /// Syncs every file and folder written (all a run needs when `syncEachUnit` is off).
    public func finish() throws {
        for (_, file) in files { try file.sync() }
        try journal.file.sync()
        if formats.contains(.json) { try syncFolder(Self.documentFolder(directory)) }
        try syncFolder(directory)
    }

    /// The records of a `json` document, one JSON object per element, as written.
    public static func documentRecords(in url: URL) throws -> [String] {
        guard let text = try? String(contentsOf: url, encoding: .utf8) else {
            throw PipelineError(.changedFolder, path: url.path, "cannot read the document")
        }
        return text.split(separator: "\n").filter { $0.hasPrefix("    {") }.map { line in
            let object = line.dropFirst(4)
            return String(object.hasSuffix(",") ? object.dropLast() : object)
        }
    }

    /// Removes the documents (and temporary files) an earlier run left in `folder`.
    private func removeDocuments(in folder: URL) throws {
        for name in try FileManager.default.contentsOfDirectory(atPath: folder.path)
        where name.hasSuffix(".json") || name.hasSuffix(".json.tmp") {
            try FileManager.default.removeItem(at: folder.appendingPathComponent(name))
        }
    }
}
