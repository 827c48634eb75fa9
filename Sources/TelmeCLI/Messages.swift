import ArgumentParser
import Foundation

/// `--json`: a command's output as one JSON document instead of text, the same in every command.
struct JSONOption: ParsableArguments {
    @Flag(help: "Print one JSON document instead of text.")
    var json = false
}

/// What telme prints on stderr comes partly from files (names, transcript text, ids): control
/// characters in it are shown escaped, so that a file cannot move the cursor, clear the screen,
/// retitle the terminal (ESC sequences), cut a message (NUL) or fake another line (newline).
enum Messages {
    /// `text` with C0 and C1 control characters, DEL, line and paragraph separators and the
    /// bidirectional overrides escaped: `\n`, `\r`, `\t`, `\0`, `\e`, else `\u{XX}`.
    /// `keepNewlines` leaves `\n` alone (multi-line usage text of the argument parser).
    static func escaped(_ text: String, keepNewlines: Bool = false) -> String {
        var out = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            let v = scalar.value
            let control = v < 0x20 || (0x7F...0x9F).contains(v) || v == 0x2028 || v == 0x2029
                || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
            if !control || (keepNewlines && scalar == "\n") {
                out.append(scalar)
                continue
            }
            let escape: String = switch scalar {
            case "\n": "\\n"
            case "\r": "\\r"
            case "\t": "\\t"
            case "\0": "\\0"
            case "\u{1B}": "\\e"
            default: "\\u{" + String(v, radix: 16, uppercase: true) + "}"
            }
            out.append(contentsOf: escape.unicodeScalars)
        }
        return String(out)
    }

    /// The one-line text of an error for the user. Foundation's file errors (which would print
    /// as `Error Domain=NSCocoaErrorDomain Code=...`) become `path: reason`, with what to do.
    static func describe(_ error: any Error) -> String {
        guard let cocoa = error as? CocoaError else { return String(describing: error) }
        let path = cocoa.filePath ?? cocoa.url?.path ?? "(a file)"
        var reason: String
        if let underlying = cocoa.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            reason = String(cString: strerror(Int32(underlying.code)))
        } else {
            reason = switch cocoa.code {
            case .fileNoSuchFile, .fileReadNoSuchFile: "no such file or folder"
            case .fileReadNoPermission, .fileWriteNoPermission: "permission denied"
            case .fileWriteFileExists: "already exists"
            case .fileWriteOutOfSpace: "no space left on the device"
            case .fileWriteVolumeReadOnly: "read-only file system"
            default: "file operation failed (code \(cocoa.code.rawValue))"
            }
        }
        return "\(path): \(reason); check the path, its permissions and the free space"
    }
}

/// Warnings printed one by one up to `limit` per kind, then counted: a transcript with a
/// million bad cues gives a few lines and a count, not a million lines. The kind of a warning
/// is its text with numbers and quoted parts taken out (`file:12: time "x" is not a time`).
final class WarningSummary {
    let limit: Int
    private var seen: [String: (count: Int, example: String)] = [:]
    private var order: [String] = []

    init(limit: Int = 5) { self.limit = limit }

    /// Prints `message` as a warning unless `limit` of its kind were printed already.
    func warn(_ message: String) {
        let kind = Self.kind(of: message)
        let count = (seen[kind]?.count ?? 0) + 1
        if count == 1 { order.append(kind) }
        seen[kind] = (count, seen[kind]?.example ?? message)
        if count <= limit { TelmeCLI.warn(message) }
    }

    /// Prints one line per kind that had more than `limit` warnings.
    func finish() {
        for kind in order {
            guard let (count, example) = seen[kind], count > limit else { continue }
            TelmeCLI.warn("\(count - limit) more warning\(count - limit == 1 ? "" : "s") like the one above "
                          + "(\(count) in all), not shown: \(example)")
        }
        seen = [:]
        order = []
    }

    static func kind(of message: String) -> String {
        var kind = ""
        var inQuote = false
        var lastWasDigit = false
        for character in message {
            if character == "\"" {
                inQuote.toggle()
                kind.append(character)
                continue
            }
            if inQuote { continue }
            if character.isNumber {
                if !lastWasDigit { kind.append("#") }
                lastWasDigit = true
            } else {
                kind.append(character)
                lastWasDigit = false
            }
        }
        return kind
    }
}
