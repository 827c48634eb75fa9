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
}

/// The outcome of one utterance.
public enum RecordStatus: String, Sendable, Codable {
    /// Every modality the model has was used.
    case ok
    /// Labelled, but with fewer modalities than the model has.
    case degraded
    /// No label could be given.
    case failed
}

/// One utterance's annotation: the unit of every output format.
///
/// The field order here is the column order of `annotations.csv` and the key order of
/// `annotations.jsonl`; `Schemas/annotation-record.schema.json` describes the record.
public struct AnnotationRecord: Sendable, Equatable {
    /// The file the utterance came from (its clip, or the transcript for text-only runs).
    public var source: String
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

    public init(source: String, dialogue: String, utterance: Int, speaker: String, start: Double? = nil,
                end: Double? = nil, text: String, label: String? = nil, confidence: Float? = nil,
                probabilities: [Float] = [], textLabel: String? = nil, audioLabel: String? = nil,
                videoLabel: String? = nil, textStatus: ModalityStatus = .ok, audioStatus: ModalityStatus = .missing,
                videoStatus: ModalityStatus = .missing, gold: String? = nil, status: RecordStatus = .ok,
                message: String = "") {
        self.source = source
        self.dialogue = dialogue
        self.utterance = utterance
        self.speaker = speaker
        self.start = start
        self.end = end
        self.text = text
        self.label = label
        self.confidence = confidence
        self.probabilities = probabilities
        self.textLabel = textLabel
        self.audioLabel = audioLabel
        self.videoLabel = videoLabel
        self.textStatus = textStatus
        self.audioStatus = audioStatus
        self.videoStatus = videoStatus
        self.gold = gold
        self.status = status
        self.message = message
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
    /// The record's fields in output order, with `p_<label>` for every class.
    func fields(labels: [String]) -> [(name: String, value: FieldValue)] {
        var out: [(String, FieldValue)] = [
            ("source", .string(source)),
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
        return out
    }

    /// Column names of `annotations.csv` for a model with these labels.
    public static func columns(labels: [String]) -> [String] {
        AnnotationRecord(source: "", dialogue: "", utterance: 0, speaker: "", text: "")
            .fields(labels: labels).map(\.name)
    }
}
