/// How one modality of an utterance was used.
public enum ModalityStatus: String, Sendable, Codable, CaseIterable {
    /// Decoded and given to the model.
    case ok
    /// Not available (no media for it, or a text-only model).
    case missing
    /// Replaced by the authors' zero input (the over-30-s rule, or the model's setting for a missing file).
    case zeroed
    /// The media could not be read; the record's message says why.
    case error
    /// Not asked for (`--text-only`): the model has this modality but the run did not read its media.
    case skipped
}

/// The outcome of one utterance.
public enum RecordStatus: String, Sendable, Codable {
    /// Every modality the run asked for was used (`--text-only` asks for the text alone).
    case ok
    /// Labelled, but with fewer modalities than the run asked for.
    case degraded
    /// No label could be given.
    case failed
}

/// One utterance's annotation: the unit of every output format.
///
/// The field order here is the column order of `annotations.csv` and the key order of
/// `annotations.jsonl`; `Schemas/annotation-record.schema.json` describes the record.
public struct AnnotationRecord: Sendable, Equatable {
    /// The media file the utterance comes from (its clip, its dialogue video, its episode),
    /// relative to the corpus root as the corpus names it; the transcript when the corpus names
    /// no media file. The same with and without `--text-only`.
    public var source: String
    /// The episode (its video's path in the episodes folder, without extension); nil for CSV corpora.
    public var episode: String?
    /// The transcript the utterance was read from, relative to the corpus root (for CSV corpora,
    /// the CSV's file name).
    public var transcript: String
    /// 0-based index of the utterance's cue (or row) among the transcript's cues; it never restarts.
    public var cue: Int
    /// 1-based line of the transcript where the cue (its timing line) or row starts.
    public var line: Int
    public var dialogue: String
    /// 0-based index within its dialogue.
    public var utterance: Int
    public var speaker: String
    /// Seconds, when the corpus gives times.
    public var start: Double?
    public var end: Double?
    public var text: String
    /// Predicted label (nil when the utterance failed).
    public var label: String?
    /// Probability of the predicted label.
    public var confidence: Float?
    /// Softmax of the final logits, in label order.
    public var probabilities: [Float]
    /// Softmax of each model's own logits, in label order; nil when that model did not run.
    public var textProbabilities: [Float]?
    public var audioProbabilities: [Float]?
    public var videoProbabilities: [Float]?
    /// Each model's own prediction: the teacher's, and the students' when they ran.
    public var textLabel: String?
    public var audioLabel: String?
    public var videoLabel: String?
    public var textStatus: ModalityStatus
    public var audioStatus: ModalityStatus
    public var videoStatus: ModalityStatus
    /// Gold label from the corpus, when it has one.
    public var gold: String?
    public var status: RecordStatus
    /// Why the record is degraded or failed; empty when ok.
    public var message: String
    /// Each model's vector, when the run keeps them (`--embeddings`); not a field of the record.
    public var vectors: UtteranceVectors?

    public init(source: String, episode: String? = nil, transcript: String = "", cue: Int = 0, line: Int = 0,
                dialogue: String, utterance: Int, speaker: String, start: Double? = nil,
                end: Double? = nil, text: String, label: String? = nil, confidence: Float? = nil,
                probabilities: [Float] = [], textProbabilities: [Float]? = nil, audioProbabilities: [Float]? = nil,
                videoProbabilities: [Float]? = nil, textLabel: String? = nil, audioLabel: String? = nil,
                videoLabel: String? = nil, textStatus: ModalityStatus = .ok, audioStatus: ModalityStatus = .missing,
                videoStatus: ModalityStatus = .missing, gold: String? = nil, status: RecordStatus = .ok,
                message: String = "", vectors: UtteranceVectors? = nil) {
        self.source = source
        self.episode = episode
        self.transcript = transcript
        self.cue = cue
        self.line = line
        self.dialogue = dialogue
        self.utterance = utterance
        self.speaker = speaker
        self.start = start
        self.end = end
        self.text = text
        self.label = label
        self.confidence = confidence
        self.probabilities = probabilities
        self.textProbabilities = textProbabilities
        self.audioProbabilities = audioProbabilities
        self.videoProbabilities = videoProbabilities
        self.textLabel = textLabel
        self.audioLabel = audioLabel
        self.videoLabel = videoLabel
        self.textStatus = textStatus
        self.audioStatus = audioStatus
        self.videoStatus = videoStatus
        self.gold = gold
        self.status = status
        self.message = message
        self.vectors = vectors
    }
}

/// One utterance's vectors: the teacher's `h_t`, the students' `h_a` and `h_v` (nil when they
/// did not run), and the fusion's representation that its classifier reads (nil without fusion).
public struct UtteranceVectors: Sendable, Equatable {
    public var text: [Float]
    public var audio: [Float]?
    public var video: [Float]?
    public var fused: [Float]?

    public init(text: [Float], audio: [Float]?, video: [Float]?, fused: [Float]?) {
        self.text = text
        self.audio = audio
        self.video = video
        self.fused = fused
    }
}

/// A value of one record field, before it is written as CSV or JSON.
enum FieldValue: Equatable {
    case string(String?)
    case int(Int)
    case double(Double?)
    case float(Float?)
}

extension AnnotationRecord {
    /// The record's fields in output order, with `p_<label>` for every class, then (with
    /// `modalityProbabilities`) `text_p_<label>`, `audio_p_<label>` and `video_p_<label>`.
    func fields(labels: [String], modalityProbabilities: Bool = true) -> [(name: String, value: FieldValue)] {
        var out: [(String, FieldValue)] = [
            ("source", .string(source)),
            ("episode", .string(episode)),
            ("transcript", .string(transcript)),
            ("cue", .int(cue)),
            ("line", .int(line)),
            ("dialogue", .string(dialogue)),
            ("utterance", .int(utterance)),
            ("speaker", .string(speaker)),
            ("start", .double(start)),
            ("end", .double(end)),
            ("text", .string(text)),
            ("label", .string(label)),
            ("confidence", .float(confidence)),
        ]
        for (i, name) in labels.enumerated() {
            out.append(("p_\(name)", .float(i < probabilities.count ? probabilities[i] : nil)))
        }
        out += [
            ("text_label", .string(textLabel)),
            ("audio_label", .string(audioLabel)),
            ("video_label", .string(videoLabel)),
            ("text_status", .string(textStatus.rawValue)),
            ("audio_status", .string(audioStatus.rawValue)),
            ("video_status", .string(videoStatus.rawValue)),
            ("gold", .string(gold)),
            ("status", .string(status.rawValue)),
            ("message", .string(message)),
        ]
        if modalityProbabilities {
            for (modality, values) in [("text", textProbabilities), ("audio", audioProbabilities),
                                       ("video", videoProbabilities)] {
                for (i, name) in labels.enumerated() {
                    out.append(("\(modality)_p_\(name)", .float(values.flatMap { i < $0.count ? $0[i] : nil })))
                }
            }
        }
        return out
    }

    /// Column names of `annotations.csv` for a model with these labels.
    public static func columns(labels: [String], modalityProbabilities: Bool = false) -> [String] {
        AnnotationRecord(source: "", dialogue: "", utterance: 0, speaker: "", text: "")
            .fields(labels: labels, modalityProbabilities: modalityProbabilities).map(\.name)
    }
}
