import Foundation

/// CSV transcripts (read with `CSVReader`, so RFC 4180 quoting and its errors apply).
///
/// - Columns are found by header name, ignoring case and everything but letters and digits
///   (`Start_Time`, `start time`, `StartTime` are one name):
///   start: `start, start_time, begin, begin_time, start_seconds, start_sec`;
///   end: `end, end_time, stop, stop_time, end_seconds, end_sec`;
///   text: `text, utterance, transcript, transcription, sentence, caption, subtitle`;
///   speaker (optional): `speaker, speaker_name, character, voice`;
///   dialogue (optional): `dialogue, dialogue_id, dialog, dialog_id, conversation, conversation_id,
///   scene, scene_id`; gold label (optional): `emotion, label, gold, gold_label` (an empty cell
///   is no label). Other columns are ignored (so a MELD CSV reads as a transcript).
///   start, end and text are required; two columns for one role are an error at the header.
/// - Times: plain seconds (`12.5`) or `[HH:]MM:SS[.,]mmm`; an empty, unreadable, negative or
///   absurd time keeps the row without times, with a warning (see `Transcript`).
/// - Text: the cell with its ends trimmed and each line break (CR, LF, CRLF) made one space.
///   Speaker: the trimmed cell; without a speaker column, the `NAME:` rule of `CueText` applies.
/// - A row with no text is skipped with a warning; a row with a different number of fields than
///   the header is an error at its line (its columns cannot be trusted).
enum TranscriptCSVParser {
    enum Role: String, CaseIterable {
        case start, end, text, speaker, dialogue, gold

        var names: Set<String> {
            switch self {
            case .start: ["start", "starttime", "begin", "begintime", "startseconds", "startsec"]
            case .end: ["end", "endtime", "stop", "stoptime", "endseconds", "endsec"]
            case .text: ["text", "utterance", "transcript", "transcription", "sentence", "caption", "subtitle"]
            case .speaker: ["speaker", "speakername", "character", "voice"]
            case .dialogue: ["dialogue", "dialogueid", "dialog", "dialogid", "conversation", "conversationid",
                             "scene", "sceneid"]
            case .gold: ["emotion", "label", "gold", "goldlabel"]
            }
        }

        static func of(header name: String) -> Role? {
            let key = String(String.UnicodeScalarView(name.lowercased().unicodeScalars.filter {
                $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0))
            }))
            return allCases.first { $0.names.contains(key) }
        }
    }

    static func parse(_ data: Data, file: String) throws(CorpusError) -> Transcript {
        let (rows, readerWarnings) = try CSVReader.parse(data, file: file)
        var warnings = readerWarnings
        guard let header = rows.first else {
            warnings.append(CorpusWarning(file: file, line: 1, message: "empty transcript: no header row"))
            return Transcript(file: file, format: .csv, cues: [], warnings: warnings)
        }
        var columns: [Role: Int] = [:]
        for (index, name) in header.fields.enumerated() {
            guard let role = Role.of(header: name) else { continue }
            if let other = columns[role] {
                throw CorpusError(file: file, line: header.line, message:
                    "columns \"\(header.fields[other])\" and \"\(name)\" both give the \(role.rawValue)")
            }
            columns[role] = index
        }
        for role in [Role.start, .end, .text] where columns[role] == nil {
            throw CorpusError(file: file, line: header.line, message:
                "no \(role.rawValue) column (named one of: \(role.names.sorted().joined(separator: ", ")); "
                + "case, spaces and _ do not matter); columns: \(header.fields.joined(separator: ", "))")
        }
        guard let startColumn = columns[.start], let endColumn = columns[.end], let textColumn = columns[.text] else {
            return Transcript(file: file, format: .csv, cues: [], warnings: warnings) // checked just above
        }

        var cues: [TranscriptCue] = []
        for row in rows.dropFirst() {
            guard row.fields.count == header.fields.count else {
                throw CorpusError(file: file, line: row.line, message:
                    "expected \(header.fields.count) fields as in the header, found \(row.fields.count)")
            }
            var text = singleLine(row.fields[textColumn])
            guard !text.isEmpty else {
                warnings.append(CorpusWarning(file: file, line: row.line, message: "row without text, skipped"))
                continue
            }
            var speaker = ""
            if let speakerColumn = columns[.speaker] {
                speaker = row.fields[speakerColumn].trimmingCharacters(in: .whitespacesAndNewlines)
            } else if let (name, rest) = CueText.speakerPrefix(text) {
                (speaker, text) = (name, rest)
            }
            var start: TranscriptTime?, end: TranscriptTime?
            switch timing(start: row.fields[startColumn], end: row.fields[endColumn]) {
            case .placed(let s, let e):
                (start, end) = (s, e)
                if s == e {
                    warnings.append(CorpusWarning(file: file, line: row.line, message: "row of zero duration at \(s) s"))
                }
            case .unplaced(let reason):
                warnings.append(CorpusWarning(file: file, line: row.line, message: reason))
            }
            let gold = columns[.gold].map { row.fields[$0].trimmingCharacters(in: .whitespaces) }
            cues.append(TranscriptCue(line: row.line, start: start, end: end, speaker: speaker, text: text,
                                      dialogue: columns[.dialogue].map { row.fields[$0] },
                                      gold: gold?.isEmpty == false ? gold : nil))
        }
        return Transcript(file: file, format: .csv, cues: cues, warnings: warnings)
    }

    static func timing(start startCell: String, end endCell: String) -> CueTiming {
        func time(_ cell: String, _ name: String) -> Result<TranscriptTime, TimeCellError> {
            let trimmed = cell.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { return .failure(TimeCellError(message: "no \(name) time")) }
            if let time = Timestamp.parseSeconds(Substring(trimmed)) ?? Timestamp.parse(Substring(trimmed)) {
                return .success(time)
            }
            return .failure(TimeCellError(message:
                "\(name) \(TranscriptText.quoted(trimmed)) is not a time (seconds, or [HH:]MM:SS.mmm)"))
        }
        switch (time(startCell, "start"), time(endCell, "end")) {
        case (.success(let start), .success(let end)):
            return CueTiming.check(start: start, end: end)
        case (.failure(let error), _), (_, .failure(let error)):
            return .unplaced(error.message + CueTiming.keptWithoutTimes)
        }
    }

    struct TimeCellError: Error {
        var message: String
    }

    /// Ends trimmed, each line break one space.
    static func singleLine(_ cell: String) -> String {
        cell.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r" || $0 == "\r\n" })
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty }
            .joined(separator: " ")
    }
}
