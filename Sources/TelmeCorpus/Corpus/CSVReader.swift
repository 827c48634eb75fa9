import Foundation
import TelmeFiles

/// One record of a CSV file: its fields and the line it starts on.
public struct CSVRow: Sendable, Equatable {
    public var fields: [String]
    /// 1-based line of the file where the row starts.
    public var line: Int

    public init(fields: [String], line: Int) {
        self.fields = fields
        self.line = line
    }
}

/// Something about a file that did not stop reading it.
public struct CorpusWarning: Sendable, Equatable, CustomStringConvertible {
    public var file: String
    public var line: Int
    public var message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// A CSV or corpus file that cannot be read, with the place.
public struct CorpusError: Error, Sendable, Equatable, CustomStringConvertible {
    public var file: String
    /// 1-based line, or nil when the problem is not at a line (unreadable file).
    public var line: Int?
    public var message: String

    public init(file: String, line: Int?, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String {
        if let line { return "\(file):\(line): \(message)" }
        return "\(file): \(message)"
    }
}

/// An RFC 4180 reader that keeps field text byte for byte.
///
/// - Fields are separated by `,`; records end with CRLF, LF or a lone CR (outside quotes).
/// - A quoted field may hold commas, line breaks (kept as they are, CRLF included) and `""`
///   for a quote. After its closing quote only a comma, a line break or the end may follow.
/// - A quote inside an unquoted field is an error (RFC 4180 section 2.5/2.6), not taken literally
///   as Python's lenient `csv` module does: it usually means a broken export.
/// - A UTF-8 byte order mark at the start is skipped. Empty lines are skipped.
/// - Bytes that are not UTF-8 become U+FFFD; each row where that happens gets a warning
///   with its line and byte offset.
public enum CSVReader {
    /// Reads every record of the file.
    public static func read(contentsOf url: URL) throws(CorpusError) -> (rows: [CSVRow], warnings: [CorpusWarning]) {
        let data: Data
        do throws(FileRefusal) {
            data = try RegularFile.read(url.path)
        } catch {
            throw CorpusError(file: url.path, line: nil, message: "cannot read: \(error.reason)")
        }
        return try parse(data, file: url.path)
    }

    /// Parses CSV bytes; `file` only names the source in errors and warnings.
    public static func parse(_ data: Data, file: String) throws(CorpusError) -> (rows: [CSVRow], warnings: [CorpusWarning]) {
        let bytes = [UInt8](data)
        var parser = Parser(bytes: bytes, file: file)
        try parser.run()
        return (parser.rows, invalidUTF8Warnings(bytes, file: file))
    }

    private struct Parser {
        let bytes: [UInt8]
        let file: String
        var rows: [CSVRow] = []
        var index = 0
        var line = 1

        init(bytes: [UInt8], file: String) {
            self.bytes = bytes
            self.file = file
            if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { index = 3 }
        }

        static let quote = UInt8(ascii: "\""), comma = UInt8(ascii: ","), cr = UInt8(ascii: "\r"), lf = UInt8(ascii: "\n")

        /// Consumes a line break at `index` if there is one.
        mutating func lineBreak() -> Bool {
            guard index < bytes.count else { return false }
            if bytes[index] == Self.lf {
                index += 1
            } else if bytes[index] == Self.cr {
                index += 1
                if index < bytes.count, bytes[index] == Self.lf { index += 1 }
            } else {
                return false
            }
            line += 1
            return true
        }

        mutating func run() throws(CorpusError) {
            while index < bytes.count {
                if lineBreak() { continue } // empty line
                let rowLine = line
                var fields: [String] = []
                while true {
                    fields.append(try readField())
                    if index < bytes.count, bytes[index] == Self.comma {
                        index += 1
                        continue
                    }
                    _ = lineBreak()
                    break
                }
                rows.append(CSVRow(fields: fields, line: rowLine))
            }
        }

        /// Reads one field, leaving `index` at the comma, line break or end after it.
        /// Delimiters are ASCII, which never occurs inside a multi-byte UTF-8 sequence, so
        /// decoding field by field replaces exactly what decoding the whole file would.
        mutating func readField() throws(CorpusError) -> String {
            if index < bytes.count, bytes[index] == Self.quote {
                let openLine = line
                index += 1
                var content: [UInt8] = []
                var start = index
                while true {
                    guard index < bytes.count else {
                        throw CorpusError(file: file, line: openLine, message:
                            "quoted field is never closed (opening quote on this line)")
                    }
                    let byte = bytes[index]
                    if byte == Self.quote {
                        if index + 1 < bytes.count, bytes[index + 1] == Self.quote {
                            content.append(contentsOf: bytes[start...index])
                            index += 2
                            start = index
                            continue
                        }
                        content.append(contentsOf: bytes[start..<index])
                        index += 1
                        break
                    }
                    if byte == Self.lf || (byte == Self.cr && !(index + 1 < bytes.count && bytes[index + 1] == Self.lf)) {
                        line += 1
                    }
                    index += 1
                }
                if index < bytes.count, bytes[index] != Self.comma, bytes[index] != Self.cr, bytes[index] != Self.lf {
                    throw CorpusError(file: file, line: line, message:
                        "unexpected \(Self.describe(bytes[index])) after the closing quote of a field")
                }
                return String(decoding: content, as: UTF8.self)
            }
            let start = index
            while index < bytes.count {
                let byte = bytes[index]
                if byte == Self.comma || byte == Self.cr || byte == Self.lf { break }
                if byte == Self.quote {
                    throw CorpusError(file: file, line: line, message:
                        "quote inside an unquoted field (a field with quotes must be quoted, with quotes doubled)")
                }
                index += 1
            }
            return String(decoding: bytes[start..<index], as: UTF8.self)
        }

        static func describe(_ byte: UInt8) -> String {
            if (0x20..<0x7F).contains(byte) { return "'\(Character(Unicode.Scalar(byte)))'" }
            return "byte 0x" + String(byte, radix: 16, uppercase: true)
        }
    }

    /// One warning per line holding bytes that are not UTF-8 (with the first one's offset).
    static func invalidUTF8Warnings(_ bytes: [UInt8], file: String) -> [CorpusWarning] {
        var warnings: [CorpusWarning] = []
        var line = 1
        var lastWarnedLine = 0
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            if byte < 0x80 {
                if byte == 0x0A || (byte == 0x0D && !(i + 1 < bytes.count && bytes[i + 1] == 0x0A)) { line += 1 }
                i += 1
                continue
            }
            let width = validSequenceWidth(bytes, at: i)
            if width > 0 {
                i += width
                continue
            }
            if line != lastWarnedLine {
                warnings.append(CorpusWarning(file: file, line: line, message:
                    "invalid UTF-8 at byte offset \(i), replaced with U+FFFD"))
                lastWarnedLine = line
            }
            i += 1
        }
        return warnings
    }

    /// Length of the well-formed UTF-8 sequence starting at `i` (a non-ASCII lead byte), or 0.
    static func validSequenceWidth(_ bytes: [UInt8], at i: Int) -> Int {
        let b0 = bytes[i]
        func continuation(_ k: Int, _ range: ClosedRange<UInt8> = 0x80...0xBF) -> Bool {
            i + k < bytes.count && range.contains(bytes[i + k])
        }
        switch b0 {
        case 0xC2...0xDF:
            return continuation(1) ? 2 : 0
        case 0xE0:
            return continuation(1, 0xA0...0xBF) && continuation(2) ? 3 : 0
        case 0xE1...0xEC, 0xEE...0xEF:
            return continuation(1) && continuation(2) ? 3 : 0
        case 0xED:
            return continuation(1, 0x80...0x9F) && continuation(2) ? 3 : 0
        case 0xF0:
            return continuation(1, 0x90...0xBF) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF1...0xF3:
            return continuation(1) && continuation(2) && continuation(3) ? 4 : 0
        case 0xF4:
            return continuation(1, 0x80...0x8F) && continuation(2) && continuation(3) ? 4 : 0
        default:
            return 0
        }
    }
}
