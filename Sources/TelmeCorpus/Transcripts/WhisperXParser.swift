import Foundation

/// WhisperX's JSON output (`whisperx --output_format json`, or `all`): the result object it
/// dumps, `{"segments": [{"start": 0.5, "end": 2.0, "text": " Good morning.", "words": [...],
/// "speaker": "SPEAKER_00"}, ...], "word_segments": [...], "language": "en"}`, on one line.
///
/// - Each element of `segments` is a cue: `text` trimmed with its spaces collapsed, `speaker`
///   when diarization gave one (empty otherwise), `start` and `end` in seconds. `words` and the
///   other keys are not used. An optional `emotion` (or `label`) string is the cue's gold label.
/// - A segment that is not an object or has no text is skipped with a warning; one without
///   usable times is kept without them, with a warning (as in every transcript format).
/// - `line` is the line of the file where the segment's object starts (1 for WhisperX's
///   one-line file); the segment's index in `segments` is the utterance's `cue`.
/// - Not JSON, or no `segments` array at the top: an error naming the file.
enum WhisperXParser {
    static func parse(_ bytes: [UInt8], file: String) throws(CorpusError) -> Transcript {
        let body = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(bytes.dropFirst(3)) : bytes
        // Invalid UTF-8 becomes U+FFFD (and gets the usual warnings from `Transcript.parse`).
        let text = String(decoding: body, as: UTF8.self)
        guard !text.allSatisfy(\.isWhitespace) else {
            return Transcript(file: file, format: .json, cues: [], warnings: [
                CorpusWarning(file: file, line: 1, message: "empty transcript: no cues"),
            ])
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])
        } catch {
            throw CorpusError(file: file, line: nil, message: "not a WhisperX JSON file: not JSON")
        }
        guard let top = object as? [String: Any], let segments = top["segments"] as? [Any] else {
            throw CorpusError(file: file, line: nil, message:
                "not a WhisperX JSON file: no \"segments\" array at the top (WhisperX writes "
                + "{\"segments\": [{\"start\", \"end\", \"text\", \"speaker\"}, ...]})")
        }
        let starts = segmentLines(Array(text.utf8))
        var cues: [TranscriptCue] = []
        var warnings: [CorpusWarning] = []
        for (k, element) in segments.enumerated() {
            let line = starts.count == segments.count ? starts[k] : 1
            guard let segment = element as? [String: Any] else {
                warnings.append(CorpusWarning(file: file, line: line, message: "segment \(k) is not an object, skipped"))
                continue
            }
            let content = CueText.collapseSpaces((segment["text"] as? String ?? "")
                .replacingOccurrences(of: "\n", with: " ").replacingOccurrences(of: "\r", with: " "))
            guard !content.isEmpty else {
                warnings.append(CorpusWarning(file: file, line: line, message: "segment \(k) has no text, skipped"))
                continue
            }
            var start: TranscriptTime?, end: TranscriptTime?
            switch timing(segment) {
            case .placed(let s, let e):
                (start, end) = (s, e)
            case .unplaced(let reason):
                warnings.append(CorpusWarning(file: file, line: line, message: "segment \(k): " + reason))
            }
            let speaker = (segment["speaker"] as? String).map(CueText.collapseSpaces) ?? ""
            let gold = ((segment["emotion"] ?? segment["label"]) as? String).map(CueText.collapseSpaces)
            cues.append(TranscriptCue(line: line, start: start, end: end, speaker: speaker, text: content,
                                      gold: gold?.isEmpty == false ? gold : nil))
        }
        return Transcript(file: file, format: .json, cues: cues, warnings: warnings)
    }

    /// A segment's `start` and `end` (numbers of seconds).
    static func timing(_ segment: [String: Any]) -> CueTiming {
        func seconds(_ key: String) -> TranscriptTime? {
            guard let number = segment[key] as? NSNumber else { return nil }
            return TranscriptTime(seconds: number.doubleValue)
        }
        guard let start = seconds("start"), let end = seconds("end") else {
            return .unplaced("no numeric start and end" + CueTiming.keptWithoutTimes)
        }
        return CueTiming.check(start: start, end: end)
    }

    /// The 1-based line where each element of the top-level `segments` array starts, found by a
    /// scan of the JSON's structure (strings skipped, depth counted).
    static func segmentLines(_ bytes: [UInt8]) -> [Int] {
        var lines: [Int] = []
        var line = 1, depth = 0
        var inString = false, escaped = false
        var stringStart = 0
        var lastString: ArraySlice<UInt8> = []
        var inSegments = false
        let key = Array("segments".utf8)
        for (i, byte) in bytes.enumerated() {
            if byte == 0x0A { line += 1 }
            if inString {
                if escaped {
                    escaped = false
                } else if byte == 0x5C {
                    escaped = true
                } else if byte == 0x22 {
                    inString = false
                    if depth == 1 { lastString = bytes[stringStart..<i] }
                }
                continue
            }
            switch byte {
            case 0x22:
                inString = true
                stringStart = i + 1
            case 0x5B, 0x7B:  // [ {
                depth += 1
                if byte == 0x5B, depth == 2, lastString.elementsEqual(key) { inSegments = true }
                if byte == 0x7B, inSegments, depth == 3 { lines.append(line) }
            case 0x5D, 0x7D:  // ] }
                if depth == 2 { inSegments = false }
                depth -= 1
            default:
                break
            }
        }
        return lines
    }
}
