import ArgumentParser
import Foundation
import TelmeFormat
import TelmeCorpus
import TelmeTokenizer

/// `telme tokenize`: the teacher's input ids of every utterance of a corpus, as JSON lines.
struct Tokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the text teacher's input ids of every utterance of a corpus CSV.",
        discussion: """
            One JSON object per line, in corpus order: {"dialogue": "<Dialogue_ID as in the CSV>", \
            "utterance": <0-based index within its dialogue>, "ids": [...]}. The ids are what the \
            TelME teacher sees: the dialogue so far with speaker tokens, " </s> Now <sK> feels", the \
            last 511 tokens and <mask>. The tokenizer comes from a directory with vocab.json and \
            merges.txt, or from a .telme model (which also gives the default speaker numbering).
            """)

    @Option(help: "The corpus CSV.", transform: { URL(fileURLWithPath: $0) })
    var corpus: URL

    @Option(help: "Column layout of the CSV: meld, iemocap or auto (from the header).")
    var layout: String = "auto"

    @Option(help: "Directory with vocab.json and merges.txt.", transform: { URL(fileURLWithPath: $0) })
    var tokenizer: URL?

    @Option(help: "A .telme model: its tokenizer and settings are used.", transform: { URL(fileURLWithPath: $0) })
    var model: URL?

    @Option(help: "Speaker numbering: official or dialogue (default: the model's setting, else official).")
    var speakerNumbering: String?

    @Option(help: "Tokens kept before <mask> (default: the model's setting, else 511).")
    var maxTextTokens: Int?

    func validate() throws {
        if (tokenizer == nil) == (model == nil) {
            throw ValidationError("give exactly one of --tokenizer DIR and --model FILE")
        }
        if layout != "auto", CorpusLayout(rawValue: layout) == nil {
            throw ValidationError("--layout must be meld, iemocap or auto, not \"\(layout)\"")
        }
        if let speakerNumbering, SpeakerNumbering(rawValue: speakerNumbering) == nil {
            throw ValidationError("--speaker-numbering must be official or dialogue, not \"\(speakerNumbering)\"")
        }
        if let maxTextTokens, maxTextTokens < 1 {
            throw ValidationError("--max-text-tokens must be at least 1")
        }
    }

    func run() async throws {
        var numbering = speakerNumbering.flatMap(SpeakerNumbering.init(rawValue:))
        var maxTokens = maxTextTokens
        let roberta: RobertaTokenizer
        if let model {
            let file = try openModel(model.path)
            do {
                roberta = try RobertaTokenizer.telme(vocabJSON: file.tokenizerFiles.vocabJSON,
                                                     merges: file.tokenizerFiles.merges)
            } catch {
                throw TokenizeError("\(model.path): tokenizer: \(error)")
            }
            numbering = numbering ?? SpeakerNumbering(rawValue: file.model.settings.speakerNumbering.rawValue)
            maxTokens = maxTokens ?? file.model.settings.maxTextTokens
        } else if let tokenizer {
            roberta = try RobertaTokenizer.telme(directory: tokenizer)
        } else {
            throw ValidationError("give exactly one of --tokenizer DIR and --model FILE")
        }

        let corpus = try Corpus(contentsOf: corpus, layout: CorpusLayout(rawValue: layout))
        for warning in corpus.warnings { Self.printError("warning: \(warning)") }
        var builder = try TeacherInputBuilder(tokenizer: roberta, maxTextTokens: maxTokens ?? 511)
        let turns = corpus.turns
        let context = TeacherInputBuilder.Context(turns, numbering: numbering ?? .official)

        var output = JSONLinesWriter()
        for (k, utterance) in corpus.utterances.enumerated() {
            output.line(dialogue: utterance.dialogue, utterance: utterance.index,
                        ids: builder.inputIDs(turn: k, of: turns, context: context))
        }
        output.flush()
    }

    static func printError(_ message: String) {
        FileHandle.standardError.write(Data((Messages.escaped(message) + "\n").utf8))
    }
}

/// A one-line error for the user (ArgumentParser prints its description).
private struct TokenizeError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Buffered `{"dialogue":...,"utterance":...,"ids":[...]}` lines on standard output.
private struct JSONLinesWriter {
    private var buffer: [UInt8] = []

    mutating func line(dialogue: String, utterance: Int, ids: [Int]) {
        buffer.append(contentsOf: #"{"dialogue":"#.utf8)
        appendJSONString(dialogue)
        buffer.append(contentsOf: #","utterance":\#(utterance),"ids":["#.utf8)
        for (k, id) in ids.enumerated() {
            if k > 0 { buffer.append(UInt8(ascii: ",")) }
            buffer.append(contentsOf: String(id).utf8)
        }
        buffer.append(contentsOf: "]}\n".utf8)
        if buffer.count > 1 << 20 { flush() }
    }

    /// RFC 8259 string: quotes, backslashes and control characters escaped, the rest as UTF-8.
    private mutating func appendJSONString(_ text: String) {
        buffer.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.append(contentsOf: #"\""#.utf8)
            case UInt8(ascii: "\\"): buffer.append(contentsOf: #"\\"#.utf8)
            case 0x0A: buffer.append(contentsOf: #"\n"#.utf8)
            case 0x0D: buffer.append(contentsOf: #"\r"#.utf8)
            case 0x09: buffer.append(contentsOf: #"\t"#.utf8)
            case 0..<0x20:
                let hex = String(byte, radix: 16)
                buffer.append(contentsOf: ("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8)
            default: buffer.append(byte)
            }
        }
        buffer.append(UInt8(ascii: "\""))
    }

    mutating func flush() {
        guard !buffer.isEmpty else { return }
        FileHandle.standardOutput.write(Data(buffer))
        buffer.removeAll(keepingCapacity: true)
    }
}
