/// How speakers are numbered in the teacher's prompt (`<s1>`, `<s2>`, ...).
///
/// TelmeModels has the same cases as `Settings.SpeakerNumbering`; this module does not depend
/// on it, so callers map one to the other by raw value.
public enum SpeakerNumbering: String, Sendable, CaseIterable {
    /// The authors' code: one running list of speaker names, appended to when a name is new;
    /// the list is emptied when a dialogue starts, but only after the first utterance of the
    /// new dialogue was numbered against the previous dialogue's list.
    case official
    /// Plain numbering, the list emptied before the first utterance of every dialogue.
    case dialogue
}

/// One utterance as the teacher's input needs it.
public struct DialogueTurn: Sendable, Equatable {
    /// The dialogue id, compared exactly (code point for code point) with the previous turn's.
    public var dialogue: String
    public var speaker: String
    /// The text exactly as the corpus holds it.
    public var text: String

    public init(dialogue: String, speaker: String, text: String) {
        self.dialogue = dialogue
        self.speaker = speaker
        self.text = text
    }
}

/// TelME's teacher input: the dialogue so far with speaker tokens, then a prompt.
///
/// The reference (`TELME_REFERENCE.md`, "Text input") and the authors' `preprocessing.py` /
/// `utils.py` for MELD and IEMOCAP, which behave identically here:
/// - A new dialogue starts whenever a turn's `Dialogue_ID` differs from the turn just before it
///   (their `sess == pre_sess` test). Dialogues are not regrouped: an id that comes back after
///   another dialogue starts a new dialogue, with no context from its earlier turns.
/// - Turn k of a dialogue sees turns 0...k: `"<sA> text_0 <sB> text_1 ... <sK> text_k "`
///   (each speaker token, a space, the text, a space), Python-`strip()`ped, then `" </s> "` and
///   `"Now <sK> feels"`, where `<sN>` is speaker number N-1. Numbers of 9 and more give `<s10>`,
///   `<s11>`, ..., which are ordinary text to the tokenizer.
/// - Of its tokens only the last `maxTextTokens` (511) are kept, and `<mask>` is appended.
public struct TeacherInputBuilder: Sendable {
    public var tokenizer: RobertaTokenizer
    /// Tokens kept before `<mask>` (the authors' 511).
    public let maxTextTokens: Int

    public init(tokenizer: RobertaTokenizer, maxTextTokens: Int = 511) throws(TokenizerError) {
        guard maxTextTokens >= 1 else {
            throw .invalidSetting("maxTextTokens", "must be at least 1, got \(maxTextTokens)")
        }
        self.tokenizer = tokenizer
        self.maxTextTokens = maxTextTokens
    }

    /// The input ids of every turn, in order.
    public mutating func inputIDs(_ turns: [DialogueTurn], numbering: SpeakerNumbering) -> [[Int]] {
        let mask = tokenizer.maskID
        return Self.prompts(turns, numbering: numbering).map { prompt in
            let ids = tokenizer.encode(prompt)
            return Array(ids.suffix(maxTextTokens)) + [mask]
        }
    }

    /// 0-based speaker numbers of `turns` (`<s1>` is number 0).
    public static func speakerNumbers(_ turns: [DialogueTurn], numbering: SpeakerNumbering) -> [Int] {
        var numbers: [Int] = []
        numbers.reserveCapacity(turns.count)
        var speakers: [[UInt8]] = []
        var previous: [UInt8]?
        for turn in turns {
            let dialogue = Array(turn.dialogue.utf8)
            let starts = previous != nil && previous != dialogue
            if starts, numbering == .dialogue { speakers = [] }
            let name = Array(turn.speaker.utf8)
            if let known = speakers.firstIndex(of: name) {
                numbers.append(known)
            } else {
                speakers.append(name)
                numbers.append(speakers.count - 1)
            }
            // The authors' order: the list is emptied after the first turn was numbered.
            if starts, numbering == .official { speakers = [] }
            previous = dialogue
        }
        return numbers
    }

    /// Whether each turn starts a dialogue (its id differs from the previous turn's).
    public static func dialogueStarts(_ turns: [DialogueTurn]) -> [Bool] {
        var previous: [UInt8]?
        return turns.map { turn in
            let dialogue = Array(turn.dialogue.utf8)
            defer { previous = dialogue }
            return previous != dialogue
        }
    }

    /// The prompt string of every turn, before tokenisation.
    public static func prompts(_ turns: [DialogueTurn], numbering: SpeakerNumbering) -> [String] {
        let numbers = speakerNumbers(turns, numbering: numbering)
        let starts = dialogueStarts(turns)
        var prompts: [String] = []
        prompts.reserveCapacity(turns.count)
        var context = ""
        for (k, turn) in turns.enumerated() {
            if starts[k] { context = "" }
            let token = "<s\(numbers[k] + 1)>"
            context += token + " " + turn.text + " "
            prompts.append(context.pythonStripped() + " </s> Now " + token + " feels")
        }
        return prompts
    }

    /// Left-pads a batch with `pad` to its longest member, as the authors' `padding` does:
    /// `ids` and an attention mask (0 on padding, 1 on tokens).
    public static func leftPad(_ ids: [[Int]], pad: Int) -> (ids: [[Int]], mask: [[Int]]) {
        let width = ids.map(\.count).max() ?? 0
        var padded: [[Int]] = []
        var masks: [[Int]] = []
        padded.reserveCapacity(ids.count)
        masks.reserveCapacity(ids.count)
        for row in ids {
            let missing = width - row.count
            padded.append(Array(repeating: pad, count: missing) + row)
            masks.append(Array(repeating: 0, count: missing) + Array(repeating: 1, count: row.count))
        }
        return (padded, masks)
    }
}
