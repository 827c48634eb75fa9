import Foundation
import TelmeFiles
import TelmeCorpus

/// `--embeddings`: each model's vector per utterance, in `embeddings/` of the output folder,
/// for numpy, pandas and R without telme.
///
/// - `text.npy` (the teacher's `h_t`), `audio.npy` (`h_a`), `video.npy` (`h_v`), `fused.npy`
///   (the fusion's representation `LayerNorm(h_t + alpha * h_m)`, which its classifier reads):
///   NumPy `.npy` version 1.0, little-endian float32 (`<f4`), C order, shape `(rows, width)`.
///   Row i belongs to record i of `annotations.jsonl` (line i + 1) and `annotations.csv`; a
///   row whose model did not run for the utterance (missing media, text-only) is all NaN. A
///   file is written only for the models the model file has.
/// - `index.csv`: `row, source, episode, transcript, cue, line, dialogue, utterance`, the keys of
///   each row, for joining without reading the records (RFC 4180, CRLF, as `annotations.csv`).
///
/// Why `.npy`: `numpy.load` reads it (memory-mapped with `mmap_mode="r"`), R reads it with
/// `RcppCNPy::npyLoad` or `reticulate`, and its format is a short text header before the raw
/// array, so it is written unit by unit and cut back on resume like the other outputs, without a
/// library. The header is padded to 128 bytes so that its row count is rewritten in place after
/// each unit: the file is a valid `.npy` after every committed unit.
public final class EmbeddingWriter {
    public static let folderName = "embeddings"
    /// The arrays, in file order, and the width of each (0: not written).
    public let widths: [(name: String, width: Int)]
    private let folder: URL
    private var files: [(name: String, width: Int, file: AppendFile)] = []
    private let index: AppendFile
    private var rows = 0

    static let headerSize = 128
    static let indexHeader = "row,source,episode,transcript,cue,line,dialogue,utterance\r\n"

    /// `directory` is the run's output folder; widths of 0 are models the file lacks.
    public init(directory: URL, text: Int, audio: Int, video: Int, fused: Int) throws {
        folder = directory.appendingPathComponent(Self.folderName)
        widths = [("text", text), ("audio", audio), ("video", video), ("fused", fused)]
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let attributes = try FileManager.default.attributesOfItem(atPath: folder.path)  // lstat
        guard attributes[.type] as? FileAttributeType == .typeDirectory else {
            throw PipelineError(.outputFolder, path: folder.path, "not a folder (a link is not followed)")
        }
        for (name, width) in widths where width > 0 {
            files.append((name, width, try AppendFile(folder.appendingPathComponent("\(name).npy"))))
        }
        index = try AppendFile(folder.appendingPathComponent("index.csv"))
    }

    /// Starts writing: the files hold the first `rows` rows of the records already committed
    /// (0 for a fresh run), whose index rows are `committedIndex`; what was written after them
    /// is cut off.
    public func start(committedIndex: [String]) throws {
        rows = committedIndex.count
        for (_, width, file) in files {
            let end = Self.headerSize + rows * width * 4
            if rows > 0 {
                guard file.size >= end else {
                    throw PipelineError(.changedFolder, path: file.url.path,
                                        "shorter than the committed units (\(file.size) bytes, "
                                        + "\(end) expected); --overwrite starts again")
                }
                try file.truncate(to: end)
            } else {
                try file.truncate(to: 0)
                try file.append([UInt8](repeating: 0x20, count: Self.headerSize))
            }
            try file.overwrite(Self.header(rows: rows, width: width), at: 0)
            try file.sync()
        }
        let committed = Array((Self.indexHeader + committedIndex.joined()).utf8)
        if rows > 0 {
            guard index.size >= committed.count, try index.read(0..<committed.count) == committed else {
                throw PipelineError(.changedFolder, path: index.url.path,
                                    "does not hold the committed units' rows; --overwrite starts again")
            }
        }
        try index.truncate(to: rows > 0 ? committed.count : 0)
        if rows == 0 { try index.append(committed) }
        try index.sync()
    }

    /// Appends the vectors of one unit's records (before the unit is committed) and syncs them.
    public func append(_ records: [AnnotationRecord], index rows: [String]) throws {
        for (name, width, file) in files {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(records.count * width * 4)
            for record in records {
                let vector: [Float]? = switch name {
                case "text": record.vectors?.text
                case "audio": record.vectors?.audio
                case "video": record.vectors?.video
                default: record.vectors?.fused
                }
                let values = vector.flatMap { $0.count == width ? $0 : nil } ?? [Float](repeating: .nan, count: width)
                for value in values { withUnsafeBytes(of: value.bitPattern.littleEndian) { bytes += $0 } }
            }
            try file.append(bytes)
            try file.overwrite(Self.header(rows: self.rows + records.count, width: width), at: 0)
            try file.sync()
        }
        try index.append(Array(rows.joined().utf8))
        try index.sync()
        self.rows += records.count
    }

    /// The index row of record `row`: the utterance's keys as its record names them.
    public static func indexRow(row: Int, source: String, transcript: String, _ u: Utterance) -> String {
        let fields = [String(row), source, u.episode ?? "", transcript, String(u.cue), String(u.line), u.dialogue,
                      String(u.index)]
        return fields.map(RecordFormat.csvField).joined(separator: ",") + "\r\n"
    }

    /// A `.npy` 1.0 header for a `(rows, width)` float32 array, padded with spaces to 128 bytes
    /// and ending in a newline, as the format asks (the whole header a multiple of 64).
    static func header(rows: Int, width: Int) -> [UInt8] {
        let dictionary = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(rows), \(width)), }"
        let prefix: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        let length = headerSize - prefix.count - 2
        let body = dictionary + String(repeating: " ", count: max(0, length - dictionary.utf8.count - 1)) + "\n"
        return prefix + [UInt8(length & 0xff), UInt8(length >> 8)] + Array(body.utf8)
    }
}
