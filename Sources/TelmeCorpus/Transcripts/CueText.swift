import Foundation

/// From the text lines of a subtitle cue to one utterance's speaker and text.
///
/// Rules (SRT and WebVTT alike, after tags are removed):
/// - Spaces and tabs are collapsed and trimmed on each line; empty lines are dropped; the lines
///   are joined with ONE SPACE (line breaks in subtitles are display layout, and the teacher's
///   prompt is a single line, as MELD's utterances are).
/// - Dialogue dashes: a line starting with `-` or `–` followed by a space, or `-` directly
///   followed by a letter, opens a turn; so does `>>` (closed captions' change of speaker). A cue
///   with two such lines, or with one that is not its first line, holds several turns: its
///   speaker is empty and its text keeps the markers (the only trace of the change of speaker).
///   A single turn's leading dash or `>>` is removed.
/// - Speaker prefix (single-turn cues without a WebVTT voice): the first line starts with
///   `[NAME]:` (WhisperX's `[SPEAKER_00]:`; NAME any 1–40 characters but brackets), or with
///   `NAME:` followed by whitespace, where NAME is 1–40 characters of letters, digits, spaces and
///   `. ' ’ - & # _ ( )`, has at most 4 words and either begins with an uppercase letter with no
///   word beginning with a lowercase letter (`JOEY:`, `Dr. Smith:`, `Man #2:`), or is one
///   lowercase word (`joey:`); not `He said:` nor `At 5:30`. NAME becomes the speaker, without a
///   trailing parenthesis (`JOEY (V.O.):` and `JOEY (O.S.):` are `JOEY`), and is removed from the
///   text. A single word before a colon (`Look: …`) is taken as a name too: the format cannot
///   tell them apart.
/// - A WebVTT voice (`<v Name>`) names the speaker; cues with different voices have none.
/// - Gold label (SRT and WebVTT): a cue whose text ends with a tag `[label]`, where label is one
///   of the MELD or IEMOCAP emotion labels in any case (`[joy]`, `[Neutral]`, `[fru]`), has that
///   label, lowercased, as its gold; the tag is removed from the text. Other bracketed text
///   (`[laughs]`, `[MUSIC]`) stays text.
enum CueText {
    /// A cue from its timing line and its markup-free text lines; nil (with a warning) when it
    /// has no text.
    static func cue(timing: SourceLine, text: [String], voices: [String], file: String, example: String,
                    warnings: inout [CorpusWarning]) -> TranscriptCue? {
        let (speaker, tagged) = CueText.utterance(lines: text, voices: voices)
        let (content, gold) = goldTag(tagged)
        guard !content.isEmpty else {
            warnings.append(CorpusWarning(file: file, line: timing.number, message: "cue without text, skipped"))
            return nil
        }
        var start: TranscriptTime?, end: TranscriptTime?
        switch CueTiming.parse(timingLine: timing.text, example: example) {
        case .placed(let s, let e):
            (start, end) = (s, e)
            if s == e {
                warnings.append(CorpusWarning(file: file, line: timing.number, message:
                    "cue of zero duration at \(s) s"))
            }
        case .unplaced(let reason):
            warnings.append(CorpusWarning(file: file, line: timing.number, message: reason))
        }
        return TranscriptCue(line: timing.number, start: start, end: end, speaker: speaker, text: content, gold: gold)
    }

    /// Emotion labels a trailing `[label]` tag may give: MELD's and IEMOCAP's.
    static let goldLabels: Set<String> = ["anger", "disgust", "fear", "joy", "neutral", "sadness", "surprise",
                                          "ang", "exc", "fru", "hap", "neu", "sad"]

    /// `text` without a trailing `[label]` tag of a known emotion label, and that label.
    static func goldTag(_ text: String) -> (text: String, gold: String?) {
        guard text.hasSuffix("]"), let open = text.lastIndex(of: "[") else { return (text, nil) }
        let label = text[text.index(after: open)..<text.index(before: text.endIndex)]
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard goldLabels.contains(label) else { return (text, nil) }
        return (String(text[..<open]).trimmingCharacters(in: .whitespaces), label)
    }

    /// Speaker and text of a cue; `voices` are the WebVTT voice names met in the cue, in order.
    static func utterance(lines rawLines: [String], voices: [String] = []) -> (speaker: String, text: String) {
        var lines = rawLines.map(collapseSpaces).filter { !$0.isEmpty }
        guard !lines.isEmpty else { return ("", "") }
        let dashed = lines.indices.filter { opensTurn(lines[$0]) }
        if dashed.count >= 2 || (dashed.count == 1 && dashed[0] != 0) {
            return ("", lines.joined(separator: " "))
        }
        if dashed == [0] {
            lines[0] = removeDash(lines[0])
        }
        let distinctVoices = voices.reduce(into: [String]()) { if !$0.contains($1) { $0.append($1) } }
        if distinctVoices.count > 1 {
            return ("", lines.joined(separator: " "))
        }
        if let voice = distinctVoices.first {
            return (voice, lines.joined(separator: " "))
        }
        if let (name, rest) = speakerPrefix(lines[0]) {
            lines[0] = rest
            return (name, lines.joined(separator: " "))
        }
        return ("", lines.joined(separator: " "))
    }

    /// `NAME: rest` or `[NAME]: rest` split as the rule above says, or nil.
    static func speakerPrefix(_ line: String) -> (name: String, rest: String)? {
        if line.hasPrefix("["), let close = line.firstIndex(of: "]") {
            let name = line[line.index(after: line.startIndex)..<close].trimmingCharacters(in: .whitespaces)
            let after = line[line.index(after: close)...]
            guard after.hasPrefix(":"), (1...40).contains(name.count), !name.contains("[") else { return nil }
            let afterColon = after.dropFirst()
            guard afterColon.isEmpty || afterColon.first == " " || afterColon.first == "\t" else { return nil }
            let rest = afterColon.trimmingCharacters(in: .whitespaces)
            return rest.isEmpty ? nil : (withoutParenthesis(name), rest)
        }
        guard let colon = line.firstIndex(of: ":") else { return nil }
        let name = line[..<colon]
        let afterColon = line[line.index(after: colon)...]
        guard let first = afterColon.first, first == " " || first == "\t" else { return nil }
        let rest = afterColon.trimmingCharacters(in: .whitespaces)
        guard !rest.isEmpty, (1...40).contains(name.count), let initial = name.first,
              initial.isLetter, name.last != " " else { return nil }
        let allowed: Set<Character> = [" ", ".", "'", "’", "-", "&", "#", "_", "(", ")"]
        guard name.allSatisfy({ $0.isLetter || $0.isNumber || allowed.contains($0) }) else { return nil }
        let words = name.split(separator: " ")
        let capitalised = initial.isUppercase && words.allSatisfy({ !($0.first?.isLowercase ?? true) })
        let lowercaseWord = words.count == 1 && name.allSatisfy { $0.isLowercase || $0 == "'" || $0 == "’" || $0 == "-" }
        guard words.count <= 4, capitalised || lowercaseWord else { return nil }
        return (withoutParenthesis(String(name)), rest)
    }

    /// A name without a trailing parenthesis: `JOEY (V.O.)` is JOEY speaking off screen.
    static func withoutParenthesis(_ name: String) -> String {
        guard name.hasSuffix(")"), let open = name.lastIndex(of: "(") else { return name }
        let bare = name[..<open].trimmingCharacters(in: .whitespaces)
        return bare.isEmpty ? name : bare
    }

    /// Whether a line opens a turn: a dialogue dash or closed captions' `>>`.
    static func opensTurn(_ line: String) -> Bool { line.hasPrefix(">>") || startsWithDash(line) }

    static func startsWithDash(_ line: String) -> Bool {
        guard let first = line.first, first == "-" || first == "–" else { return false }
        let next = line.dropFirst().first
        if next == " " { return true }
        return first == "-" && (next?.isLetter ?? false)
    }

    /// The line without its turn marker (`-`, `–` or `>>`).
    static func removeDash(_ line: String) -> String {
        String(line.dropFirst(line.hasPrefix(">>") ? 2 : 1)).trimmingCharacters(in: .whitespaces)
    }

    /// Runs of spaces and tabs become one space; ends trimmed.
    static func collapseSpaces(_ line: String) -> String {
        var result = ""
        var pendingSpace = false
        for character in line {
            if character == " " || character == "\t" {
                pendingSpace = !result.isEmpty
                continue
            }
            if pendingSpace {
                result.append(" ")
                pendingSpace = false
            }
            result.append(character)
        }
        return result
    }

    /// Removes SRT markup: `<tag …>` / `</tag>` (a `<` followed by a letter or `/`, closed on the
    /// same line; any other `<` is text) and ASS override blocks `{\…}`.
    static func stripSRTMarkup(_ line: String) -> String {
        var result = ""
        var i = line.startIndex
        while i < line.endIndex {
            let character = line[i]
            let next = line.index(after: i)
            if character == "<", next < line.endIndex, line[next].isLetter || line[next] == "/",
               let close = line[next...].firstIndex(of: ">") {
                i = line.index(after: close)
                continue
            }
            if character == "{", next < line.endIndex, line[next] == "\\",
               let close = line[next...].firstIndex(of: "}") {
                i = line.index(after: close)
                continue
            }
            result.append(character)
            i = next
        }
        return result
    }

    /// Removes WebVTT markup and decodes character references. Every `<` opens a tag (a literal
    /// one is written `&lt;`), which ends at `>` or at the end of the line; the names of voice
    /// tags (`<v Name>`, `<v.loud Name>`) are appended to `voices`.
    static func stripWebVTTMarkup(_ line: String, voices: inout [String]) -> String {
        var result = ""
        var i = line.startIndex
        while i < line.endIndex {
            let character = line[i]
            if character == "<" {
                let close = line[i...].firstIndex(of: ">") ?? line.endIndex
                let tag = line[line.index(after: i)..<close]
                if let voice = voiceName(tag) { voices.append(voice) }
                i = close < line.endIndex ? line.index(after: close) : close
                continue
            }
            if character == "&", let (decoded, after) = entity(in: line, at: i) {
                result.append(decoded)
                i = after
                continue
            }
            result.append(character)
            i = line.index(after: i)
        }
        return result
    }

    /// The annotation of a `v` start tag (`v Name`, `v.class.other Name`), or nil.
    static func voiceName(_ tag: Substring) -> String? {
        guard tag.first == "v" else { return nil }
        let afterName = tag.dropFirst()
        guard afterName.isEmpty || afterName.first == "." || afterName.first == " " || afterName.first == "\t" else {
            return nil
        }
        guard let space = afterName.firstIndex(where: { $0 == " " || $0 == "\t" }) else { return nil }
        var voices: [String] = [] // names are plain text but may hold references
        let name = collapseSpaces(String(afterName[space...]))
        let decoded = name.contains("&") ? stripWebVTTMarkup(name, voices: &voices) : name
        return decoded.isEmpty ? nil : decoded
    }

    static let namedEntities: [String: String] = [
        "amp": "&", "lt": "<", "gt": ">", "nbsp": " ", "quot": "\"", "apos": "'",
        "lrm": "\u{200E}", "rlm": "\u{200F}",
    ]

    /// A character reference at `index` (`&amp;`, `&lt;`, `&gt;`, `&nbsp;`, `&quot;`, `&apos;`,
    /// `&lrm;`, `&rlm;`, `&#NNN;`, `&#xHH;`) and the index after it; nil leaves the `&` as text.
    /// `&nbsp;` becomes a plain space: in subtitles it only holds layout, and the teacher's BPE
    /// would see U+00A0 as a different token.
    static func entity(in line: String, at index: String.Index) -> (String, String.Index)? {
        let body = line[line.index(after: index)...].prefix(12)
        guard let semicolon = body.firstIndex(of: ";") else { return nil }
        let name = body[..<semicolon]
        let after = line.index(after: semicolon)
        if let decoded = namedEntities[String(name)] { return (decoded, after) }
        guard name.first == "#" else { return nil }
        var digits = name.dropFirst()
        var radix = 10
        if digits.first == "x" || digits.first == "X" {
            radix = 16
            digits = digits.dropFirst()
        }
        guard !digits.isEmpty, let value = UInt32(digits, radix: radix), let scalar = Unicode.Scalar(value),
              value != 0 else { return nil }
        return (String(Character(scalar)), after)
    }
}
