import Foundation
import TelmeTokenizer

/// The column layouts of the TelME CSVs.
public enum CorpusLayout: String, Sendable, CaseIterable, Codable {
    /// `Utterance, Speaker, Emotion?, Dialogue_ID, Utterance_ID, StartTime?, EndTime?, Video_Path?`
    /// (the TelME `*_meld_emo.csv` files; `Sr No.`, `Sentiment`, `Season`, ... are ignored).
    case meld
    /// `Utterance, Speaker, Dialogue_ID, Start_Time, End_Time, Wav_Path, Video_Path, Emotion?`
    /// (the TelME `IEMOCAP_*.csv` files).
    case iemocap
    /// A folder of episode videos, each with a transcript of the same name (`EpisodeCorpus`).
    case episodes

    /// Columns a file of this layout must have.
    public var requiredColumns: [String] {
        switch self {
        case .meld: ["Utterance", "Speaker", "Dialogue_ID", "Utterance_ID"]
        case .iemocap: ["Utterance", "Speaker", "Dialogue_ID", "Start_Time", "End_Time", "Wav_Path", "Video_Path"]
        case .episodes: []
        }
    }

    /// The layout a header belongs to: MELD has `Utterance_ID`, IEMOCAP has `Wav_Path`.
    public static func detect(header: [String]) -> CorpusLayout? {
        let names = Set(header)
        if names.contains("Utterance_ID"), !names.contains("Wav_Path") { return .meld }
        if names.contains("Wav_Path"), !names.contains("Utterance_ID") { return .iemocap }
        return nil
    }
}

/// One row of a corpus.
public struct Utterance: Sendable, Equatable {
    /// `Dialogue_ID` exactly as the CSV holds it.
    public var dialogue: String
    /// 0-based position within its dialogue (consecutive rows with the same `Dialogue_ID`).
    public var index: Int
    /// MELD's `Utterance_ID` as in the CSV (it names the clip `dia<D>_utt<U>.mp4`; it can differ
    /// from `index` where the release skips utterances); nil for IEMOCAP.
    public var utteranceID: String?
    public var speaker: String
    /// The text exactly as the CSV holds it (MELD's C1 control characters included).
    public var text: String
    /// `Emotion`, when the file has that column and the cell is not empty.
    public var gold: String?
    /// Start and end as written (MELD `00:14:38,127`, IEMOCAP seconds), when the file has them.
    public var startTime: String?
    public var endTime: String?
    public var videoPath: String?
    public var wavPath: String?
    /// 1-based line of the CSV (or transcript) where the row (or cue) starts.
    public var line: Int
    /// 0-based place of the row (or cue) among its file's rows (cues); it never restarts.
    public var cue: Int
    /// Episodes: the episode's name (its video's path in the folder without extension) and its
    /// transcript's path in the folder; nil for CSV corpora (the CSV is the transcript).
    public var episode: String?
    public var transcript: String?

    public init(dialogue: String, index: Int, utteranceID: String? = nil, speaker: String, text: String,
                gold: String? = nil, startTime: String? = nil, endTime: String? = nil, videoPath: String? = nil,
                wavPath: String? = nil, line: Int, cue: Int = 0, episode: String? = nil, transcript: String? = nil) {
        self.dialogue = dialogue
        self.index = index
        self.utteranceID = utteranceID
        self.speaker = speaker
        self.text = text
        self.gold = gold
        self.startTime = startTime
        self.endTime = endTime
        self.videoPath = videoPath
        self.wavPath = wavPath
        self.line = line
        self.cue = cue
        self.episode = episode
        self.transcript = transcript
    }

    /// `startTime` in seconds (nil when absent or not a time).
    public var startSeconds: Double? { startTime.flatMap(Corpus.seconds) }
    /// `endTime` in seconds (nil when absent or not a time).
    public var endSeconds: Double? { endTime.flatMap(Corpus.seconds) }

    /// What the teacher's input builder needs of this utterance.
    public var turn: DialogueTurn { DialogueTurn(dialogue: dialogue, speaker: speaker, text: text) }
}

/// The utterances of one CSV file, in file order.
///
/// Dialogues are runs of consecutive rows with the same `Dialogue_ID` (compared exactly), as
/// the authors' `preprocessing.py` forms them; an id that comes back after another dialogue
/// starts a new dialogue (and gets a warning), with its `index` counting from 0 again.
public struct Corpus: Sendable {
    /// The path the corpus was read from.
    public var file: String
    public var layout: CorpusLayout
    public var utterances: [Utterance]
    /// Problems that did not stop reading (invalid UTF-8, dialogues split in two, ...).
    public var warnings: [CorpusWarning]

    public init(file: String, layout: CorpusLayout, utterances: [Utterance], warnings: [CorpusWarning] = []) {
        self.file = file
        self.layout = layout
        self.utterances = utterances
        self.warnings = warnings
    }

    /// Reads a corpus CSV; `layout` nil means detect it from the header.
    public init(contentsOf url: URL, layout: CorpusLayout?) throws(CorpusError) {
        let (rows, warnings) = try CSVReader.read(contentsOf: url)
        try self.init(rows: rows, warnings: warnings, file: url.path, layout: layout)
    }

    /// Builds a corpus from parsed rows (the first is the header).
    public init(rows: [CSVRow], warnings: [CorpusWarning] = [], file: String, layout: CorpusLayout?) throws(CorpusError) {
        guard let header = rows.first else {
            throw CorpusError(file: file, line: nil, message: "empty file: no header row")
        }
        let resolved = if let layout { layout } else { try Self.detectLayout(header, file: file) }
        let columns = try Columns(header: header, layout: resolved, file: file)

        var utterances: [Utterance] = []
        utterances.reserveCapacity(rows.count - 1)
        var warnings = warnings
        var seenDialogues: Set<[UInt8]> = []
        var previous: [UInt8]?
        var index = 0
        for row in rows.dropFirst() {
            guard row.fields.count == header.fields.count else {
                throw CorpusError(file: file, line: row.line, message:
                    "expected \(header.fields.count) fields as in the header, found \(row.fields.count)")
            }
            func value(_ column: Int?) -> String? { column.map { row.fields[$0] } }
            let dialogueID = row.fields[columns.dialogue]
            let key = Array(dialogueID.utf8)
            if key == previous {
                index += 1
            } else {
                index = 0
                if !seenDialogues.insert(key).inserted {
                    warnings.append(CorpusWarning(file: file, line: row.line, message:
                        "dialogue \"\(dialogueID)\" comes back after other dialogues; its rows from here on "
                        + "form a new dialogue without the earlier context (as in the authors' code)"))
                }
            }
            previous = key
            let gold = value(columns.emotion).flatMap { $0.isEmpty ? nil : $0 }
            utterances.append(Utterance(
                dialogue: dialogueID, index: index, utteranceID: value(columns.utteranceID),
                speaker: row.fields[columns.speaker], text: row.fields[columns.text], gold: gold,
                startTime: value(columns.start), endTime: value(columns.end), videoPath: value(columns.video),
                wavPath: value(columns.wav),
                line: row.line, cue: utterances.count))
        }
        self.init(file: file, layout: resolved, utterances: utterances, warnings: warnings)
    }

    /// The layout the header's columns show.
    private static func detectLayout(_ header: CSVRow, file: String) throws(CorpusError) -> CorpusLayout {
        guard let detected = CorpusLayout.detect(header: header.fields) else {
            throw CorpusError(file: file, line: header.line, message:
                "cannot tell the layout from the header (MELD has Utterance_ID, IEMOCAP has Wav_Path); "
                + "columns: \(header.fields.joined(separator: ", "))")
        }
        return detected
    }

    /// Where a CSV layout's fields are among the header's columns.
    private struct Columns {
        var text: Int, speaker: Int, dialogue: Int
        var emotion: Int?, video: Int?, utteranceID: Int?, start: Int?, end: Int?, wav: Int?

        init(header: CSVRow, layout: CorpusLayout, file: String) throws(CorpusError) {
            func column(_ name: String) -> Int? { header.fields.firstIndex(of: name) }
            func required(_ name: String) throws(CorpusError) -> Int {
                guard let index = column(name) else {
                    throw CorpusError(file: file, line: header.line, message:
                        "no column \"\(name)\" for the \(layout.rawValue) layout; columns: \(header.fields.joined(separator: ", "))")
                }
                return index
            }
            guard layout != .episodes else {
                throw CorpusError(file: file, line: nil, message: "the episodes layout is a folder of videos and transcripts, not one CSV")
            }
            for name in layout.requiredColumns { _ = try required(name) }
            text = try required("Utterance")
            speaker = try required("Speaker")
            dialogue = try required("Dialogue_ID")
            emotion = column("Emotion")
            video = column("Video_Path")
            utteranceID = layout == .meld ? column("Utterance_ID") : nil
            start = column(layout == .meld ? "StartTime" : "Start_Time")
            end = column(layout == .meld ? "EndTime" : "End_Time")
            wav = layout == .iemocap ? column("Wav_Path") : nil
        }
    }

    /// The utterances as the teacher's input builder takes them.
    public var turns: [DialogueTurn] { utterances.map(\.turn) }

    /// Seconds of `HH:MM:SS,mmm` / `HH:MM:SS.mmm` (MELD) or a plain number (IEMOCAP).
    static func seconds(_ text: String) -> Double? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if let plain = Double(trimmed), plain.isFinite { return plain }
        let parts = trimmed.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3, let hours = UInt32(parts[0]), let minutes = UInt32(parts[1]),
              let secs = Double(parts[2].replacingOccurrences(of: ",", with: ".")), secs.isFinite else { return nil }
        return Double(hours) * 3600 + Double(minutes) * 60 + secs
    }
}
