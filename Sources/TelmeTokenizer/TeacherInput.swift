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
    /// Turns the last windowed input needed (`inputIDs(turn:of:context:)`); only a starting guess.
    private var spanHint = 16

    public init(tokenizer: RobertaTokenizer, maxTextTokens: Int = 511) throws(TokenizerError) {
        guard maxTextTokens >= 1 else {
            throw .invalidSetting("maxTextTokens", "must be at least 1, got \(maxTextTokens)")
        }
        self.tokenizer = tokenizer
        self.maxTextTokens = maxTextTokens
    }

    /// The input ids of every turn, in order.
    public mutating func inputIDs(_ turns: [DialogueTurn], numbering: SpeakerNumbering) -> [[Int]] {
        let context = Context(turns, numbering: numbering)
        return turns.indices.map { inputIDs(turn: $0, of: turns, context: context) }
    }

    /// What building one turn's input needs besides the turns: every turn's speaker number and
    /// the first turn of its dialogue (two integers a turn, computed in one pass).
    public struct Context: Sendable {
        /// 0-based speaker numbers (`speakerNumbers(_:numbering:)`).
        public let numbers: [Int]
        /// The index of the first turn of each turn's dialogue.
        public let dialogueStart: [Int]

        public init(_ turns: [DialogueTurn], numbering: SpeakerNumbering) {
            numbers = TeacherInputBuilder.speakerNumbers(turns, numbering: numbering)
            var starts: [Int] = []
            starts.reserveCapacity(turns.count)
            for (k, starting) in TeacherInputBuilder.dialogueStarts(turns).enumerated() {
                starts.append(starting ? k : starts.last ?? 0)
            }
            dialogueStart = starts
        }
    }

    /// The input ids of turn `k`: the same ids as tokenising its whole prompt (`prompts`) and
    /// keeping the last `maxTextTokens`, but built from the most recent turns only, as far back
    /// as the window needs. So the cost of a turn does not grow with the length of its dialogue.
    ///
    /// Why that is exact: the prompt from turn j on is a suffix of the whole prompt, and its
    /// tokens are a suffix of the whole prompt's tokens when the tokenizer cannot join anything
    /// across the cut (see `isCut(at:)`). So once the suffix has at least `maxTextTokens` tokens,
    /// its last `maxTextTokens` are the whole prompt's. Turns are added back in doubling spans;
    /// at the dialogue's first turn the prompt is the whole prompt.
    public mutating func inputIDs(turn k: Int, of turns: [DialogueTurn], context: Context) -> [Int] {
        let first = context.dialogueStart[k]
        // The span that sufficed for the previous turn usually suffices again: one tokenisation.
        var span = spanHint
        while true {
            var j = max(first, k - span + 1)
            while j > first && !Self.isCut(at: j, of: turns, numbers: context.numbers) { j -= 1 }
            let ids = tokenizer.encode(Self.prompt(turns, numbers: context.numbers, from: j, to: k, whole: j == first))
            if j == first || ids.count >= maxTextTokens {
                if j > first { spanHint = max(16, k - j + 1) }
                return Array(ids.suffix(maxTextTokens)) + [tokenizer.maskID]
            }
            span = span > turns.count ? turns.count + 1 : span * 2
        }
    }

    /// The prompt of turn `k` from turn `j` on. `whole`: j is the dialogue's first turn, and
    /// this is the whole prompt. Otherwise it is the part from the space before turn j's
    /// speaker token when that token is ordinary text (`<s10>` and above), from the token itself
    /// when it is a special token (`<s1>`...`<s9>`).
    static func prompt(_ turns: [DialogueTurn], numbers: [Int], from j: Int, to k: Int, whole: Bool) -> String {
        var context = whole || numbers[j] < 9 ? "" : " "
        for i in j...k { context += "<s\(numbers[i] + 1)> " + turns[i].text + " " }
        // The leading space (if any) is kept: only the end is stripped, as in the whole prompt.
        let stripped = context.first == " " ? " " + String(context.dropFirst()).pythonStripped() : context.pythonStripped()
        return stripped + " </s> Now <s\(numbers[k] + 1)> feels"
    }

    /// Whether the tokens of the prompt from turn `j` on are a suffix of the whole prompt's.
    ///
    /// - `<s1>`...`<s9>` are special tokens: the tokenizer cuts the text there whatever comes
    ///   before (no special token contains `<` after its first character, so no match can run
    ///   into this one), and strips the whitespace on both sides of it.
    /// - `<s10>` and above are text, preceded by the space the prompt puts after the previous
    ///   turn. GPT-2's pre-tokeniser starts a word at that space (` <`) whatever precedes it,
    ///   unless that space is stripped away: when nothing but whitespace lies between it and a
    ///   special token that strips what follows it (a speaker token `<s1>`...`<s9>`, of the
    ///   previous turn or ending its text). BPE never merges across words.
    static func isCut(at j: Int, of turns: [DialogueTurn], numbers: [Int]) -> Bool {
        if numbers[j] < 9 { return true }
        let text = turns[j - 1].text
        // Whitespace for Python (the strip) or for the pre-tokeniser's `\s`.
        func blank(_ scalar: Unicode.Scalar) -> Bool {
            scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value) || scalar.value <= 0x20
        }
        let scalars = text.unicodeScalars
        guard let last = scalars.lastIndex(where: { !blank($0) }) else { return numbers[j - 1] >= 9 }
        let trimmed = String(scalars[...last])
        return !RobertaTokenizer.telmeSpeakerTokens.contains { trimmed.hasSuffix($0) }
    }

    /// 0-based speaker numbers of `turns` (`<s1>` is number 0).
    public static func speakerNumbers(_ turns: [DialogueTurn], numbering: SpeakerNumbering) -> [Int] {
        var numbers: [Int] = []
        numbers.reserveCapacity(turns.count)
        // Each name's number in the running list (the list's order is the numbers' order).
        var speakers: [[UInt8]: Int] = [:]
        var previous: [UInt8]?
        for turn in turns {
            let dialogue = Array(turn.dialogue.utf8)
            let starts = previous != nil && previous != dialogue
            if starts, numbering == .dialogue { speakers = [:] }
            let name = Array(turn.speaker.utf8)
            if let known = speakers[name] {
                numbers.append(known)
            } else {
                speakers[name] = speakers.count
                numbers.append(speakers.count - 1)
            }
            // The authors' order: the list is emptied after the first turn was numbered.
            if starts, numbering == .official { speakers = [:] }
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
