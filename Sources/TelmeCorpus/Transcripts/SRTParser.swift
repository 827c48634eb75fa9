/// SubRip (`.srt`) cues.
///
/// - Any line containing `-->` is a timing line and starts a cue (`HH:MM:SS,mmm --> HH:MM:SS,mmm`,
///   SubRip's `X1:… Y2:…` coordinates after it are ignored). A line holding only digits right
///   before it is the cue's number (so cues work without the blank line between them); numbers
///   are not checked.
/// - The lines after the timing line, up to the next cue, are its text; markup is removed
///   (`<i>`, `</font>`, … and `{\an8}`), then `CueText` gives the speaker and the text.
/// - Blank lines between cues may be missing or repeated. Text after a blank line that does not
///   start a cue is appended to the cue before it, with a warning (a blank line inside a cue
///   usually means a broken file); text before the first cue is ignored, with a warning.
/// - A file with text but no timing line at all is not SubRip: an error at its first line.
enum SRTParser {
    static let example = "HH:MM:SS,mmm --> HH:MM:SS,mmm"

    static func parse(_ bytes: [UInt8], file: String) throws(CorpusError) -> Transcript {
        let lines = TranscriptText.lines(bytes)
        let timingIndices = lines.indices.filter { TranscriptText.hasArrow(lines[$0].text) }
        let isTiming = Set(timingIndices)
        var warnings: [CorpusWarning] = []
        guard let firstTiming = timingIndices.first else {
            if let first = lines.first(where: { !$0.isBlank }) {
                throw CorpusError(file: file, line: first.number, message:
                    "not a SubRip file: no cue timing line (\(example)) anywhere")
            }
            return Transcript(file: file, format: .srt, cues: [], warnings: [
                CorpusWarning(file: file, line: 1, message: "empty transcript: no cues"),
            ])
        }
        /// Whether line `index` is the number of the cue whose timing line follows it.
        func isCueNumber(_ index: Int) -> Bool {
            guard isTiming.contains(index + 1) else { return false }
            let trimmed = lines[index].text.trimmingCharacters(in: .whitespaces)
            return !trimmed.isEmpty && trimmed.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
        }

        for index in 0..<firstTiming where !lines[index].isBlank && !isCueNumber(index) {
            warnings.append(CorpusWarning(file: file, line: lines[index].number, message:
                "text before the first cue, ignored: \(TranscriptText.quoted(lines[index].text))"))
        }
        var cues: [TranscriptCue] = []
        for (k, timingIndex) in timingIndices.enumerated() {
            let timing = lines[timingIndex]
            var stop = k + 1 < timingIndices.count ? timingIndices[k + 1] : lines.count
            if stop < lines.count, stop > timingIndex + 1, isCueNumber(stop - 1) { stop -= 1 }
            var text: [String] = []
            var sawBlank = false
            var warnedBlank = false
            for line in lines[(timingIndex + 1)..<stop] {
                if line.isBlank {
                    sawBlank = !text.isEmpty
                    continue
                }
                if sawBlank, !warnedBlank {
                    warnings.append(CorpusWarning(file: file, line: line.number, message:
                        "text after a blank line, appended to the cue at line \(timing.number)"))
                    warnedBlank = true
                }
                text.append(CueText.stripSRTMarkup(line.text))
            }
            if let cue = CueText.cue(timing: timing, text: text, voices: [], file: file, example: example,
                                 warnings: &warnings) {
                cues.append(cue)
            }
        }
        return Transcript(file: file, format: .srt, cues: cues, warnings: warnings)
    }
}
