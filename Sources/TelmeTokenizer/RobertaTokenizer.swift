import Foundation
import TelmeFiles

/// RoBERTa's byte-level BPE tokenizer, id for id the same as transformers 4.27.2
/// `RobertaTokenizer.from_pretrained(dir)` followed by
/// `add_special_tokens({'additional_special_tokens': [...]})`, calling `tokenize` and then
/// `convert_tokens_to_ids` (no `<s>` prepended, no `</s>` appended).
///
/// What that means, step by step:
/// 1. The text is cut at the special tokens `<s>`, `</s>`, `<unk>`, `<pad>`, `<mask>` and the
///    additional ones (leftmost match first, the longest at a given start; this is what
///    transformers' `Trie` does for tokens of the form `<...>` that hold no other `<` or `>`).
/// 2. Around each special token, whitespace (Python `str.isspace`) is stripped from the
///    neighbouring text as transformers does: the additional tokens (added as plain strings)
///    strip both sides; `<mask>` (an `AddedToken` with `lstrip`) strips the text before it;
///    `<s>`, `</s>`, `<unk>`, `<pad>` strip nothing (so `"full. </s>"` keeps a lone `Ġ`).
/// 3. Every remaining piece of text is pre-tokenised with GPT-2's pattern (`PreTokenizer`),
///    each word's UTF-8 bytes are spelled in the byte alphabet and BPE-merged by rank.
/// 4. Tokens map to ids through the added tokens first, then `vocab.json`, else `<unk>`.
/// No Unicode normalisation happens anywhere, and `add_prefix_space` is false.
///
/// The tokenizer is a value; `encode` is `mutating` only because it memoises each word's BPE
/// (like transformers' `self.cache`). Copies share the immutable tables.
public struct RobertaTokenizer: Sendable {
    /// A token matched before pre-tokenisation, with transformers' stripping behaviour.
    public struct AddedToken: Sendable, Equatable {
        public var content: String
        /// Strip whitespace from the end of the text before the token.
        public var lstrip: Bool
        /// Strip whitespace from the start of the text after the token.
        public var rstrip: Bool
    }

    /// The nine speaker tokens TelME adds (ids 50265...50273 with the roberta-large vocabulary).
    public static let telmeSpeakerTokens: [String] = (1...9).map { "<s\($0)>" }

    private let tables: Tables
    private var cache = Caches()
    private var scratch = Scratch()

    /// Builds the tokenizer from the contents of `vocab.json` and `merges.txt`.
    /// - Parameter additionalSpecialTokens: added as transformers' `add_special_tokens` adds
    ///   plain strings: matched before BPE, stripping whitespace on both sides; the ones not
    ///   in the vocabulary get ids from `vocabularySize` on, in order.
    public init(vocabJSON: Data, merges: Data, additionalSpecialTokens: [String] = []) throws(TokenizerError) {
        try self.init(vocabJSON: vocabJSON, merges: merges, additionalSpecialTokens: additionalSpecialTokens,
                      vocabName: "vocab.json", mergesName: "merges.txt")
    }

    /// `vocabName` and `mergesName` name the files in errors.
    init(vocabJSON: Data, merges: Data, additionalSpecialTokens: [String], vocabName: String,
         mergesName: String) throws(TokenizerError) {
        tables = try Tables(vocabJSON: vocabJSON, merges: merges, additional: additionalSpecialTokens,
                            vocabName: vocabName, mergesName: mergesName)
    }

    /// Builds the tokenizer from a directory holding `vocab.json` and `merges.txt`.
    public init(directory: URL, additionalSpecialTokens: [String] = []) throws(TokenizerError) {
        let vocabURL = directory.appendingPathComponent("vocab.json")
        let mergesURL = directory.appendingPathComponent("merges.txt")
        try self.init(vocabJSON: try Self.read(vocabURL), merges: try Self.read(mergesURL),
                      additionalSpecialTokens: additionalSpecialTokens, vocabName: vocabURL.path, mergesName: mergesURL.path)
    }

    /// The tokenizer of TelME's teacher: RoBERTa's plus `<s1>`...`<s9>`.
    public static func telme(vocabJSON: Data, merges: Data) throws(TokenizerError) -> RobertaTokenizer {
        try RobertaTokenizer(vocabJSON: vocabJSON, merges: merges, additionalSpecialTokens: telmeSpeakerTokens)
    }

    /// The tokenizer of TelME's teacher, from a directory with `vocab.json` and `merges.txt`.
    public static func telme(directory: URL) throws(TokenizerError) -> RobertaTokenizer {
        try RobertaTokenizer(directory: directory, additionalSpecialTokens: telmeSpeakerTokens)
    }

    private static func read(_ url: URL) throws(TokenizerError) -> Data {
        do throws(FileRefusal) {
            return try RegularFile.read(url.path)
        } catch {
            throw .unreadableFile(url.path, error.reason)
        }
    }

    /// Entries of `vocab.json`.
    public var vocabularySize: Int { tables.vocab.count }
    /// `len(tokenizer)`: the vocabulary plus the added tokens that were not in it.
    public var count: Int { tables.vocab.count + tables.addedEncoder.count }
    /// The special tokens in matching order, with their stripping behaviour.
    public var addedTokens: [AddedToken] { tables.added.map(\.token) }

    /// `convert_tokens_to_ids` of one token: the added tokens first, then the vocabulary;
    /// nil where transformers would give `<unk>`'s id.
    public func id(of token: String) -> Int? {
        let key = Array(token.utf8)
        return tables.addedEncoder[key] ?? tables.vocab[key]
    }

    public var unkID: Int { tables.unkID }
    /// Id of `<pad>` (1 for RoBERTa).
    public var padID: Int { tables.specialID("<pad>") }
    /// Id of `<mask>` (50264 for RoBERTa).
    public var maskID: Int { tables.specialID("<mask>") }
    /// Id of `<s>` (0 for RoBERTa).
    public var bosID: Int { tables.specialID("<s>") }
    /// Id of `</s>` (2 for RoBERTa).
    public var eosID: Int { tables.specialID("</s>") }

    /// The ids of `text` (transformers: `convert_tokens_to_ids(tokenize(text))`).
    public mutating func encode(_ text: String) -> [Int] {
        var pieces: [Int32] = []
        encodePieces(text, into: &pieces)
        let tables = self.tables
        return pieces.map { tables.id(ofPiece: $0) }
    }

    /// The tokens of `text` as transformers' `tokenize` spells them (`Ġ` for a space, ...).
    public func tokenize(_ text: String) -> [String] {
        var caches = Caches(), scratch = Scratch()
        var pieces: [Int32] = []
        Self.encodePieces(text, tables: tables, cache: &caches, scratch: &scratch, into: &pieces)
        return pieces.map { tables.spelling(ofPiece: $0) }
    }

    private mutating func encodePieces(_ text: String, into output: inout [Int32]) {
        Self.encodePieces(text, tables: tables, cache: &cache, scratch: &scratch, into: &output)
    }

    private static func encodePieces(_ text: String, tables: Tables, cache: inout Caches, scratch: inout Scratch,
                                     into output: inout [Int32]) {
        var text = text
        text.withUTF8 { bytes in
            tables.encode(bytes, cache: &cache, scratch: &scratch, output: &output)
        }
    }
}

/// Memos of `encode`: words (as transformers keeps), and whole short text segments (the
/// utterances between speaker tokens, which recur in every later prompt of their dialogue).
struct Caches: Sendable {
    var words = WordCache()
    var segments = WordCache()
    /// Longer segments are not memoised (they rarely recur and would fill the memory).
    static let maxSegmentBytes = 512
}

/// Buffers reused across calls.
struct Scratch: Sendable {
    var word: [Int32] = []
    var merge: [Int32] = []
    var segments: [Range<Int>] = []
}

/// The immutable part of a tokenizer, shared by its copies.
private final class Tables: Sendable {
    struct Added: Sendable {
        var token: RobertaTokenizer.AddedToken
        var bytes: [UInt8]
        var id: Int
    }

    let bpe: BPEModel
    /// Vocabulary id of each BPE symbol (`<unk>`'s when the vocabulary lacks it).
    let symbolIDs: [Int]
    let vocab: [[UInt8]: Int]
    /// transformers' `added_tokens_encoder`: added tokens that were not in the vocabulary.
    let addedEncoder: [[UInt8]: Int]
    /// Special tokens, in the order transformers registers them.
    let added: [Added]
    /// Indices into `added`, longest first, for matching.
    let addedLongestFirst: [Int]
    /// Bytes that can start a special token.
    let startsAdded: [Bool]
    let unkID: Int

    init(vocabJSON: Data, merges: Data, additional: [String], vocabName: String, mergesName: String) throws(TokenizerError) {
        let vocab = try Self.vocabulary(vocabJSON, name: vocabName)
        guard let unk = vocab[Array("<unk>".utf8)] else {
            throw .invalidFile(vocabName, "has no <unk> token (every RoBERTa vocabulary has one)")
        }
        self.vocab = vocab
        unkID = unk

        bpe = try BPEModel(merges: merges, file: mergesName)
        symbolIDs = bpe.symbolSpellings.map { vocab[$0] ?? unk }

        var encoder: [[UInt8]: Int] = [:]
        var added: [Added] = []
        for token in Self.specialTokens(additional: additional) {
            let bytes = Array(token.content.utf8)
            let id: Int
            if let known = vocab[bytes] {
                id = known
            } else {
                id = vocab.count + encoder.count
                encoder[bytes] = id
            }
            added.append(Added(token: token, bytes: bytes, id: id))
        }
        addedEncoder = encoder
        self.added = added
        addedLongestFirst = added.indices.sorted { added[$0].bytes.count > added[$1].bytes.count }
        var starts = [Bool](repeating: false, count: 256)
        for token in added { starts[Int(token.bytes[0])] = true }
        startsAdded = starts
    }

    /// `vocab.json`: token (UTF-8 bytes) -> id.
    static func vocabulary(_ json: Data, name: String) throws(TokenizerError) -> [[UInt8]: Int] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: json)
        } catch {
            throw .invalidFile(name, "not valid JSON (\((error as NSError).localizedDescription))")
        }
        guard let entries = object as? [String: Any] else {
            throw .invalidFile(name, "expected a JSON object of token -> integer id")
        }
        var vocab: [[UInt8]: Int] = [:]
        vocab.reserveCapacity(entries.count)
        for (token, value) in entries {
            guard let id = value as? Int, id >= 0 else {
                throw .invalidFile(name, "the id of \(token.debugDescription) is not a non-negative integer")
            }
            vocab[Array(token.utf8)] = id
        }
        return vocab
    }

    /// RobertaTokenizer's own special tokens (AddedToken objects), then the `additional` ones
    /// not among them (plain strings, which transformers strips on both sides).
    static func specialTokens(additional: [String]) -> [RobertaTokenizer.AddedToken] {
        var tokens: [RobertaTokenizer.AddedToken] = [
            .init(content: "<s>", lstrip: false, rstrip: false),
            .init(content: "</s>", lstrip: false, rstrip: false),
            .init(content: "<unk>", lstrip: false, rstrip: false),
            .init(content: "<pad>", lstrip: false, rstrip: false),
            .init(content: "<mask>", lstrip: true, rstrip: false),
        ]
        for content in additional where !content.isEmpty {
            if !tokens.contains(where: { $0.content.utf8.elementsEqual(content.utf8) }) {
                tokens.append(.init(content: content, lstrip: true, rstrip: true))
            }
        }
        return tokens
    }

    func specialID(_ content: String) -> Int {
        added.first { $0.token.content == content }?.id ?? unkID
    }

    @inline(__always)
    func id(ofPiece piece: Int32) -> Int {
        let index = Int(piece)
        return index < symbolIDs.count ? symbolIDs[index] : added[index - symbolIDs.count].id
    }

    func spelling(ofPiece piece: Int32) -> String {
        let index = Int(piece)
        return index < symbolIDs.count
            ? String(decoding: bpe.symbolSpellings[index], as: UTF8.self)
            : added[index - symbolIDs.count].token.content
    }

    /// The special token spelled exactly by `bytes[range]`, if any.
    private func addedIndex(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, startsAdded[Int(bytes[range.lowerBound])] else { return nil }
        for (index, token) in added.enumerated() where token.bytes.count == range.count {
            if token.bytes.elementsEqual(UnsafeBufferPointer(rebasing: bytes[range])) { return index }
        }
        return nil
    }

    /// The special token starting at `i` (longest first), if any.
    private func addedMatch(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> Int? {
        for index in addedLongestFirst {
            let token = added[index].bytes
            guard i + token.count <= bytes.count else { continue }
            var k = 0
            while k < token.count, bytes[i + k] == token[k] { k += 1 }
            if k == token.count { return index }
        }
        return nil
    }

    func encode(_ bytes: UnsafeBufferPointer<UInt8>, cache: inout Caches, scratch: inout Scratch,
                output: inout [Int32]) {
        // 1. Cut at special tokens (empty pieces are dropped, as transformers' `cut_text` does).
        var segments = scratch.segments
        segments.removeAll(keepingCapacity: true)
        var start = 0, i = 0
        while i < bytes.count {
            if startsAdded[Int(bytes[i])], let index = addedMatch(bytes, at: i) {
                if start < i { segments.append(start..<i) }
                let end = i + added[index].bytes.count
                segments.append(i..<end)
                start = end
                i = end
            } else {
                i += 1
            }
        }
        if start < bytes.count { segments.append(start..<bytes.count) }

        // 2. Strip the neighbours of special tokens, in transformers' order (a piece stripped
        //    to nothing is no longer a neighbour that gets stripped: `if right:`).
        for k in segments.indices {
            guard let index = addedIndex(bytes, segments[k]) else { continue }
            let token = added[index].token
            if token.rstrip, k + 1 < segments.count, !segments[k + 1].isEmpty {
                segments[k + 1] = pythonStripRange(bytes, segments[k + 1], leading: true, trailing: false)
            }
            if token.lstrip, k > 0, !segments[k - 1].isEmpty {
                segments[k - 1] = pythonStripRange(bytes, segments[k - 1], leading: false, trailing: true)
            }
        }

        // 3. Special tokens as they are, everything else through pre-tokenisation and BPE.
        let firstAddedPiece = Int32(symbolIDs.count)
        var wordPieces = scratch.word, mergeBuffer = scratch.merge
        for segment in segments where !segment.isEmpty {
            if let index = addedIndex(bytes, segment) {
                output.append(firstAddedPiece + Int32(index))
                continue
            }
            let memoise = segment.count <= Caches.maxSegmentBytes
            let segmentHash = memoise ? WordCache.hash(bytes, segment) : 0
            if memoise, cache.segments.append(bytes, segment, hash: segmentHash, to: &output) { continue }
            let first = output.count
            PreTokenizer.forEachWord(in: bytes, range: segment) { word in
                let hash = WordCache.hash(bytes, word)
                if cache.words.append(bytes, word, hash: hash, to: &output) { return }
                bpe.apply(bytes, word, into: &wordPieces, scratch: &mergeBuffer)
                output.append(contentsOf: wordPieces)
                cache.words.insert(bytes, word, hash: hash, pieces: wordPieces[...])
            }
            if memoise { cache.segments.insert(bytes, segment, hash: segmentHash, pieces: output[first...]) }
        }
        scratch.segments = segments
        scratch.word = wordPieces
        scratch.merge = mergeBuffer
    }
}
