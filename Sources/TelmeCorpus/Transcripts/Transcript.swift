import Foundation
import TelmeFiles

/// The transcript formats an episode may come with.
public enum TranscriptFormat: String, Sendable, CaseIterable, Codable {
    case srt
    case vtt
    case csv
    /// WhisperX's JSON (`segments[]` with `start`, `end`, `text` and, after diarization, `speaker`).
    case json

    /// The format of a file extension (case-insensitive), nil for others.
    public init?(pathExtension: String) {
        self.init(rawValue: pathExtension.lowercased())
    }

    /// Which transcript wins when an episode has several: `.csv` (explicit speakers and dialogues,
    /// usually written on purpose), then `.json` (WhisperX writes it beside its `.srt` and `.vtt`,
    /// and it alone keeps each segment whole with its speaker), then `.vtt` (voice tags), then `.srt`.
    public static let precedence: [TranscriptFormat] = [.csv, .json, .vtt, .srt]
}

/// A point in an episode, in whole microseconds (so gaps compare exactly with decimal inputs).
public struct TranscriptTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var microseconds: Int64

    public init(microseconds: Int64) {
        self.microseconds = microseconds
    }

    /// Nearest whole microsecond of `seconds`; nil when not finite or beyond ±1e12 s.
    public init?(seconds: Double) {
        guard seconds.isFinite, abs(seconds) <= 1e12 else { return nil }
        self.init(microseconds: Int64((seconds * 1_000_000).rounded()))
    }

    public var seconds: Double { Double(microseconds) / 1_000_000 }

    /// Seconds in plain decimal notation with at most 6 decimals and no trailing zeros
    /// beyond the first (`12.345`, `3.0`, `-1.5`), readable by `Double(_:)` and `Corpus.seconds`.
    public var description: String {
        let magnitude = microseconds.magnitude
        var fraction = String(magnitude % 1_000_000)
        fraction = String(repeating: "0", count: 6 - fraction.count) + fraction
        while fraction.count > 1, fraction.hasSuffix("0") { fraction.removeLast() }
        return (microseconds < 0 ? "-" : "") + "\(magnitude / 1_000_000).\(fraction)"
    }

    public static func < (a: TranscriptTime, b: TranscriptTime) -> Bool { a.microseconds < b.microseconds }

    /// Times beyond this are not taken as positions in an episode (about 11.6 days).
    public static let limit = TranscriptTime(microseconds: 1_000_000 * 1_000_000)
}

/// One cue (SRT/WebVTT) or row (CSV) of a transcript.
public struct TranscriptCue: Sendable, Equatable {
    /// 1-based line of the cue's timing line (SRT, WebVTT) or of its row (CSV).
    public var line: Int
    /// Where the cue lies in the episode; both nil when it cannot be placed in time
    /// (malformed or absurd times, each with a warning): the cue is still an utterance.
    public var start: TranscriptTime?
    public var end: TranscriptTime?
    /// Empty when unknown or when the cue holds several speakers.
    public var speaker: String
    public var text: String
    /// The CSV dialogue column's value, when the file has one.
    public var dialogue: String?
    /// The cue's gold label: a CSV `emotion` / `label` column, a JSON segment's `emotion`, or a
    /// trailing `[joy]`-style tag in SRT / WebVTT (see `CueText.goldTag`).
    public var gold: String?

    public init(line: Int, start: TranscriptTime?, end: TranscriptTime?, speaker: String, text: String,
                dialogue: String? = nil, gold: String? = nil) {
        self.line = line
        self.start = start
        self.end = end
        self.speaker = speaker
        self.text = text
        self.dialogue = dialogue
        self.gold = gold
    }
}

/// The cues of one transcript file, in file order.
///
/// Rules common to all formats:
/// - A UTF-8 byte order mark is skipped; bytes that are not UTF-8 become U+FFFD, with a warning
///   per line naming the byte offset.
/// - Times are `[H…:]MM:SS[.,]f…` (hours any number of digits up to 9, minutes and seconds
///   below 60, 0–9 fraction digits; `,` and `.` both accepted whatever the format) and, in CSV
///   cells, also plain seconds (`12`, `12.5`, `.5`). They are held in whole microseconds.
/// - A cue that cannot be placed in time (unreadable time, end before start, a time beyond
///   1e6 s, a negative or NaN CSV cell) is KEPT with `start`/`end` nil and a warning naming its
///   line: it is still an utterance and the annotation gives it a record (without media).
///   A zero-length cue keeps its times, with a warning.
/// - A cue with no text (after tags are removed) is skipped with a warning: it is not an utterance.
/// - Cues stay in file order; one starting before the previous cue's start gets a warning.
public struct Transcript: Sendable {
    /// The path the transcript was read from.
    public var file: String
    public var format: TranscriptFormat
    public var cues: [TranscriptCue]
    public var warnings: [CorpusWarning]

    public init(file: String, format: TranscriptFormat, cues: [TranscriptCue], warnings: [CorpusWarning] = []) {
        self.file = file
        self.format = format
        self.cues = cues
        self.warnings = warnings
    }

    /// Reads a transcript; `format` nil means from the file's extension.
    public init(contentsOf url: URL, format: TranscriptFormat? = nil) throws(CorpusError) {
        guard let resolved = format ?? TranscriptFormat(pathExtension: url.pathExtension) else {
            throw CorpusError(file: url.path, line: nil, message:
                "not a transcript: the extension must be .srt, .vtt, .json or .csv")
        }
        let data: Data
        do throws(FileRefusal) {
            data = try RegularFile.read(url.path)
        } catch {
            throw CorpusError(file: url.path, line: nil, message: "cannot read: \(error.reason)")
        }
        self = try Transcript.parse(data, format: resolved, file: url.path)
    }

    /// Parses transcript bytes; `file` only names the source in errors and warnings.
    public static func parse(_ data: Data, format: TranscriptFormat, file: String) throws(CorpusError) -> Transcript {
        let bytes = [UInt8](data)
        var transcript: Transcript
        switch format {
        case .srt:
            transcript = try SRTParser.parse(bytes, file: file)
        case .vtt:
            transcript = try WebVTTParser.parse(bytes, file: file)
        case .csv:
            transcript = try TranscriptCSVParser.parse(data, file: file)
        case .json:
            transcript = try WhisperXParser.parse(bytes, file: file)
        }
        if format != .csv { // the CSV reader reports invalid UTF-8 itself
            transcript.warnings += CSVReader.invalidUTF8Warnings(bytes, file: file)
        }
        transcript.warnOutOfOrder()
        transcript.warnings.sort { $0.line < $1.line } // stable: same-line warnings keep their order
        return transcript
    }

    private mutating func warnOutOfOrder() {
        var previous: TranscriptTime?
        for cue in cues {
            guard let start = cue.start else { continue }
            if let previous, start < previous {
                warnings.append(CorpusWarning(file: file, line: cue.line, message:
                    "cue starts at \(start) s, before the previous cue's start \(previous) s; kept in file order"))
            }
            previous = start
        }
    }
}

// MARK: - Shared pieces of the parsers

/// One line of a text file, without its line break.
struct SourceLine {
    /// 1-based.
    var number: Int
    var text: String

    /// Whether the line holds nothing but spaces and tabs.
    var isBlank: Bool { text.allSatisfy { $0 == " " || $0 == "\t" } }
}

enum TranscriptText {
    /// Splits bytes at CRLF, LF or a lone CR (the way `CSVReader` counts lines), after a UTF-8
    /// BOM; each line decoded on its own (line breaks are ASCII, so this replaces invalid UTF-8
    /// exactly as decoding the whole file would).
    static func lines(_ bytes: [UInt8]) -> [SourceLine] {
        var lines: [SourceLine] = []
        var start = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var i = start
        var number = 1
        while i < bytes.count {
            let byte = bytes[i]
            if byte == 0x0A || byte == 0x0D {
                lines.append(SourceLine(number: number, text: String(decoding: bytes[start..<i], as: UTF8.self)))
                number += 1
                i += (byte == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A) ? 2 : 1
                start = i
            } else {
                i += 1
            }
        }
        if start < bytes.count {
            lines.append(SourceLine(number: number, text: String(decoding: bytes[start...], as: UTF8.self)))
        }
        return lines
    }

    /// Byte offset of the first `-->` in a line's UTF-8, the cue timing marker of SRT and WebVTT.
    static func arrowOffset(_ bytes: [UInt8]) -> Int? {
        guard bytes.count >= 3 else { return nil }
        for i in 0...(bytes.count - 3) where bytes[i] == 0x2D && bytes[i + 1] == 0x2D && bytes[i + 2] == 0x3E {
            return i
        }
        return nil
    }

    /// Whether a line holds `-->` (compared by bytes, not by characters).
    static func hasArrow(_ line: String) -> Bool { arrowOffset(Array(line.utf8)) != nil }

    /// A line shortened for messages.
    static func quoted(_ text: String) -> String {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        return "\"" + (trimmed.count > 60 ? trimmed.prefix(60) + "…" : trimmed) + "\""
    }
}

/// What a timing line or a pair of time cells gives.
enum CueTiming {
    case placed(TranscriptTime, TranscriptTime)
    /// The cue cannot be placed; the reason ends "…; the cue is kept without times".
    case unplaced(String)

    static let keptWithoutTimes = "; the cue is kept without times"

    /// Checks the order and range of two times.
    static func check(start: TranscriptTime, end: TranscriptTime) -> CueTiming {
        if start.microseconds < 0 || end.microseconds < 0 {
            return .unplaced("negative time (start \(start) s, end \(end) s)" + keptWithoutTimes)
        }
        if start > TranscriptTime.limit || end > TranscriptTime.limit {
            return .unplaced("time beyond 1e6 s (start \(start) s, end \(end) s)" + keptWithoutTimes)
        }
        if end < start {
            return .unplaced("the cue ends (\(end) s) before it starts (\(start) s)" + keptWithoutTimes)
        }
        return .placed(start, end)
    }

    /// Parses `START --> END[ settings]` (SRT coordinates and WebVTT cue settings are ignored).
    static func parse(timingLine: String, example: String) -> CueTiming {
        let bytes = Array(timingLine.utf8)
        guard let arrow = TranscriptText.arrowOffset(bytes) else {
            return .unplaced("no \"-->\" in the timing line" + keptWithoutTimes)
        }
        // Split by bytes: "-->" may sit inside a grapheme (`>` + a combining mark) in hostile text.
        let left = String(decoding: bytes[..<arrow], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        let right = String(decoding: bytes[(arrow + 3)...], as: UTF8.self).trimmingCharacters(in: .whitespaces)
        let endToken = right.prefix { $0 != " " && $0 != "\t" }
        guard let start = Timestamp.parse(Substring(left)), let end = Timestamp.parse(endToken) else {
            return .unplaced("cannot read the cue timing \(TranscriptText.quoted(timingLine)) (expected \(example))"
                + keptWithoutTimes)
        }
        return check(start: start, end: end)
    }
}

enum Timestamp {
    /// `[H…:]MM:SS[.,]f…`: hours 1–9 digits, minutes and seconds 1–2 digits below 60,
    /// 0–9 fraction digits (rounded to the microsecond). No sign, no spaces inside.
    static func parse(_ text: Substring) -> TranscriptTime? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2 || parts.count == 3 else { return nil }
        var hours: Int64 = 0
        if parts.count == 3 {
            guard let h = digits(parts[0], maxCount: 9) else { return nil }
            hours = h
        }
        guard let minutes = digits(parts[parts.count - 2], maxCount: 2), minutes < 60 else { return nil }
        let last = parts[parts.count - 1]
        let separator = last.firstIndex { $0 == "." || $0 == "," }
        let wholePart = separator.map { last[..<$0] } ?? last
        guard let seconds = digits(wholePart, maxCount: 2), seconds < 60 else { return nil }
        var micro: Int64 = 0
        if let separator {
            guard let fraction = fractionMicroseconds(last[last.index(after: separator)...], allowEmpty: false) else {
                return nil
            }
            micro = fraction
        }
        // At most 999_999_999 h: 3.6e18 µs, below Int64.max.
        return TranscriptTime(microseconds: ((hours * 60 + minutes) * 60 + seconds) * 1_000_000 + micro)
    }

    /// Plain seconds as CSV cells hold them: `12`, `12.5`, `.5`, `12.`, optionally signed.
    /// Nil for anything else (exponents, `nan`, `inf`, empty) or beyond 1e12 s.
    static func parseSeconds(_ text: Substring) -> TranscriptTime? {
        var body = text
        var negative = false
        if let first = body.first, first == "-" || first == "+" {
            negative = first == "-"
            body = body.dropFirst()
        }
        let separator = body.firstIndex(of: ".")
        let wholePart = separator.map { body[..<$0] } ?? body
        let fractionPart = separator.map { body[body.index(after: $0)...] } ?? ""
        guard !(wholePart.isEmpty && fractionPart.isEmpty) else { return nil }
        guard let whole = wholePart.isEmpty ? 0 : digits(wholePart, maxCount: 12),
              let fraction = fractionMicroseconds(fractionPart, allowEmpty: true) else { return nil }
        let micro = whole * 1_000_000 + fraction
        return TranscriptTime(microseconds: negative ? -micro : micro)
    }

    /// An unsigned decimal of 1...maxCount ASCII digits.
    static func digits(_ text: Substring, maxCount: Int) -> Int64? {
        guard !text.isEmpty, text.utf8.count <= maxCount else { return nil }
        var value: Int64 = 0
        for byte in text.utf8 {
            guard byte >= 0x30, byte <= 0x39 else { return nil }
            value = value * 10 + Int64(byte - 0x30)
        }
        return value
    }

    /// Up to 9 fraction digits as microseconds, rounded half up.
    static func fractionMicroseconds(_ text: Substring, allowEmpty: Bool) -> Int64? {
        if text.isEmpty { return allowEmpty ? 0 : nil }
        guard let value = digits(text, maxCount: 9) else { return nil }
        let count = text.utf8.count
        if count <= 6 {
            var scale: Int64 = 1
            for _ in count..<6 { scale *= 10 }
            return value * scale
        }
        var divisor: Int64 = 1
        for _ in 6..<count { divisor *= 10 }
        return (value + divisor / 2) / divisor
    }
}
