import Foundation

/// The output formats of an annotation run.
public enum OutputFormat: String, Sendable, CaseIterable, Codable {
    /// `annotations.jsonl`: one JSON record per line.
    case jsonl
    /// `annotations.csv`: RFC 4180, one row per record.
    case csv
}

/// Writes records to `annotations.jsonl` / `annotations.csv` in an output folder as they are
/// finished, flushing after every dialogue, so that an interrupted run keeps what it finished.
public final class OutputWriter {
    public let directory: URL
    public let labels: [String]
    private var handles: [(format: OutputFormat, handle: FileHandle)] = []

    /// Creates the folder and the files (replacing earlier ones) with their headers.
    public init(directory: URL, labels: [String], formats: [OutputFormat]) throws {
        self.directory = directory
        self.labels = labels
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for format in formats {
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
                switch format {
                case .jsonl: text += RecordFormat.jsonObject(record, labels: labels) + "\n"
                case .csv: text += RecordFormat.csvRow(record, labels: labels)
                }
            }
            try handle.write(contentsOf: Data(text.utf8))
            try handle.synchronize()
        }
    }
}

/// A failure of the pipeline that a user sees: one line naming the file and the place.
public struct PipelineError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
