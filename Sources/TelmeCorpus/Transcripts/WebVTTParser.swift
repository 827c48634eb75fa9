/// WebVTT (`.vtt`) cues, following the block structure of the W3C parser.
///
/// - The first line must be `WEBVTT`, alone or followed by a space or tab and free text (an
///   error at line 1 otherwise). The header runs to the first blank line.
/// - Blocks are separated by blank lines. `NOTE`, `STYLE` and `REGION` blocks are skipped.
///   A cue block is `[identifier]` then `START --> END [settings]` then text; times are
///   `HH:MM:SS.mmm` or `MM:SS.mmm` (read leniently, see `Transcript`), settings are ignored.
///   A line with `-->` inside a block starts a new cue there (no identifier), as in the spec.
/// - Text: `<v Name>` / `<v.class Name>` give the speaker; all other tags (`<i>`, `<c.x>`,
///   `<00:01.000>`, `</v>`, …) are removed; `&amp; &lt; &gt; &nbsp; &quot; &apos; &lrm; &rlm;`
///   and numeric references are decoded; then `CueText` gives the speaker and the text (a
///   `NAME:` prefix when there is no voice).
/// - Unlike the spec (which drops it), a block that is neither a cue nor a NOTE/STYLE/REGION
///   is appended to the cue before it, with a warning (usually a blank line inside a cue's text);
///   before the first cue it is ignored, with a warning.
enum WebVTTParser {
    static let example = "HH:MM:SS.mmm --> HH:MM:SS.mmm"

    private struct PendingCue {
        var timing: SourceLine
        var text: [String] = []
    }

    static func parse(_ bytes: [UInt8], file: String) throws(CorpusError) -> Transcript {
        let lines = TranscriptText.lines(bytes)
        var warnings: [CorpusWarning] = []
        guard let first = lines.first, !lines.allSatisfy(\.isBlank) else {
            return Transcript(file: file, format: .vtt, cues: [], warnings: [
                CorpusWarning(file: file, line: 1, message: "empty transcript: no cues"),
            ])
        }
        guard startsWithWord(first.text, "WEBVTT") else {
            throw CorpusError(file: file, line: 1, message:
                "not a WebVTT file: the first line must be \"WEBVTT\", found \(TranscriptText.quoted(first.text))")
        }

        let blocks = cueBlocks(lines, file: file, warnings: &warnings)
        let pending = pendingCues(blocks, file: file, warnings: &warnings)
        var cues: [TranscriptCue] = []
        for cue in pending {
            var voices: [String] = []
            let text = cue.text.map { CueText.stripWebVTTMarkup($0, voices: &voices) }
            if let made = CueText.cue(timing: cue.timing, text: text, voices: voices, file: file,
                                            example: example, warnings: &warnings) {
                cues.append(made)
            }
        }
        return Transcript(file: file, format: .vtt, cues: cues, warnings: warnings)
    }

    /// The blocks (runs of non-blank lines) after the header; a cue written right under the
    /// header (no blank line) is kept, with a warning.
    private static func cueBlocks(_ lines: [SourceLine], file: String,
                                  warnings: inout [CorpusWarning]) -> [[SourceLine]] {
        var blocks: [[SourceLine]] = []
        var current: [SourceLine] = []
        for line in lines {
            if line.isBlank {
                if !current.isEmpty { blocks.append(current) }
                current = []
            } else {
                current.append(line)
            }
        }
        if !current.isEmpty { blocks.append(current) }
        if let arrow = blocks[0].dropFirst().firstIndex(where: { TranscriptText.hasArrow($0.text) }) {
            warnings.append(CorpusWarning(file: file, line: blocks[0][arrow].number, message:
                "no blank line between the WEBVTT header and the first cue"))
            // A line before the arrow (other than WEBVTT) is the cue's identifier.
            blocks[0] = Array(blocks[0][max(1, arrow - 1)...])
        } else {
            blocks.removeFirst()
        }
        return blocks
    }

    /// The cues of the blocks, timing line and text lines, before their text is read; NOTE,
    /// STYLE and REGION blocks skipped, other text appended to the cue before it.
    private static func pendingCues(_ blocks: [[SourceLine]], file: String,
                                    warnings: inout [CorpusWarning]) -> [PendingCue] {
        var pending: [PendingCue] = []
        for block in blocks {
            let head = block[0].text
            if ["NOTE", "STYLE", "REGION"].contains(where: { startsWithWord(head, $0) }) { continue }
            let timingIndex: Int? = if TranscriptText.hasArrow(head) { 0 }
                else if block.count > 1, TranscriptText.hasArrow(block[1].text) { 1 } else { nil }
            guard let timingIndex else {
                if pending.isEmpty {
                    warnings.append(CorpusWarning(file: file, line: block[0].number, message:
                        "text outside any cue, ignored: \(TranscriptText.quoted(head))"))
                } else {
                    warnings.append(CorpusWarning(file: file, line: block[0].number, message:
                        "text after a blank line, appended to the cue at line \(pending[pending.count - 1].timing.number)"))
                    pending[pending.count - 1].text += block.map(\.text)
                }
                continue
            }
            for line in block[timingIndex...] {
                if TranscriptText.hasArrow(line.text) {
                    pending.append(PendingCue(timing: line))
                } else {
                    pending[pending.count - 1].text.append(line.text)
                }
            }
        }
        return pending
    }

    /// Whether `line` is `word` alone or followed by a space or tab (how WebVTT marks its keywords).
    static func startsWithWord(_ line: String, _ word: String) -> Bool {
        guard line.hasPrefix(word) else { return false }
        let next = line.dropFirst(word.count).first
        return next == nil || next == " " || next == "\t"
    }
}
