import Foundation

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

/// Writes records to `annotations.jsonl` / `annotations.csv` in an output folder as they are
/// finished, flushing after every dialogue, so that an interrupted run keeps what it finished.
public final class OutputWriter {
    public let directory: URL
    public let labels: [String]
    private var handles: [(format: OutputFormat, handle: FileHandle)] = []
    /// The `json` format's grouping (nil when that format is off) and the group being collected.
    private let groupOf: ((AnnotationRecord) -> String)?
    private var pending: (group: String, records: [AnnotationRecord])?

    /// Creates the folder and the files (replacing earlier ones) with their headers. `groupOf`
    /// names the `json` document a record belongs to (records of a group must be consecutive).
    public init(directory: URL, labels: [String], formats: [OutputFormat],
                groupOf: @escaping (AnnotationRecord) -> String = { $0.dialogue }) throws {
        self.directory = directory
        self.labels = labels
        self.groupOf = formats.contains(.json) ? groupOf : nil
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        if formats.contains(.json) {
            try FileManager.default.createDirectory(at: directory.appendingPathComponent("json"),
                                                    withIntermediateDirectories: true)
        }
        for format in formats where format != .json {
            let url = Self.url(directory, format)
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw PipelineError("\(url.path): cannot create the file")
            }
            let handle = try FileHandle(forWritingTo: url)
            handles.append((format, handle))
            if format == .csv { try handle.write(contentsOf: Data(RecordFormat.csvHeader(labels: labels).utf8)) }
        }
    }

    deinit {
        for (_, handle) in handles { try? handle.close() }
    }

    /// The file of one format in `directory`.
    public static func url(_ directory: URL, _ format: OutputFormat) -> URL {
        directory.appendingPathComponent("annotations.\(format.rawValue)")
    }

    /// Appends records (typically one dialogue's) to every file and flushes them to disk.
    public func append(_ records: [AnnotationRecord]) throws {
        for (format, handle) in handles {
            var text = ""
            for record in records {
                text += format == .csv ? RecordFormat.csvRow(record, labels: labels)
                                       : RecordFormat.jsonObject(record, labels: labels) + "\n"
            }
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
        }
        guard let groupOf else { return }
        for record in records {
            let group = groupOf(record)
            if let current = pending, current.group != group { try writeGroup() }
            if pending == nil { pending = (group, []) }
            pending?.records.append(record)
        }
    }

    /// Writes what is still collected (the last `json` document). Call once at the end.
    public func finish() throws {
        try writeGroup()
    }

    /// The file of a `json` group: its name with `/`, `\`, control characters and a leading
    /// dot replaced by `_`, so it always stays inside `json/`.
    public static func groupFileName(_ group: String) -> String {
        var name = String(group.unicodeScalars.map { scalar -> Character in
            scalar == "/" || scalar == "\\" || scalar.value < 0x20 || scalar.value == 0x7f ? "_" : Character(scalar)
        })
        if name.hasPrefix(".") || name.isEmpty { name = "_" + name }
        return String(name.prefix(200)) + ".json"
    }

    private func writeGroup() throws {
        guard let (group, records) = pending else { return }
        pending = nil
        let body = records.map { "    " + RecordFormat.jsonObject($0, labels: labels) }.joined(separator: ",\n")
        let labelList = labels.map(RecordFormat.jsonString).joined(separator: ",")
        let text = "{\n  \"group\": \(RecordFormat.jsonString(group)),\n  \"labels\": [\(labelList)],\n"
            + "  \"records\": [\n\(body)\n  ]\n}\n"
        let url = directory.appendingPathComponent("json").appendingPathComponent(Self.groupFileName(group))
        let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
        try Data(text.utf8).write(to: temporary)
        guard rename(temporary.path, url.path) == 0 else {
            throw PipelineError("\(url.path): cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

/// A failure of the pipeline that a user sees: one line naming the file and the place.
public struct PipelineError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
