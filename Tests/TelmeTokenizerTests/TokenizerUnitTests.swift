import Foundation
import Testing
@testable import TelmeTokenizer

/// Exact behaviour worked out by hand: pre-tokenisation, BPE, special tokens, file parsing.
@Suite struct TokenizerUnitTests {
    @Test(arguments: [
        ("a  b", ["a", " ", " b"]),
        ("x\n\ny", ["x", "\n", "\n", "y"]),
        ("a \n b", ["a", " \n", " b"]),
        ("  x", [" ", " x"]),
        ("x  ", ["x", "  "]),
        ("x\t", ["x", "\t"]),
        ("it's I'M they'll 'S 'sand", ["it", "'s", " I", "'", "M", " they", "'ll", " '", "S", " '", "sand"]),
        ("hello123world", ["hello", "123", "world"]),
        ("$100,000.00!!!", ["$", "100", ",", "000", ".", "00", "!!!"]),
        (" 12 ab", [" 12", " ab"]),
        ("\u{a0}x", ["\u{a0}", "x"]),
        ("it\u{92}s", ["it", "\u{92}", "s"]),
        ("e\u{301}t\u{e9}", ["e", "\u{301}", "t\u{e9}"]),
        ("\u{661}\u{662} \u{bd}", ["\u{661}\u{662}", " \u{bd}"]),
        ("", []),
    ])
    func preTokenizerSplitsLikeGPT2Pattern(text: String, words: [String]) {
        #expect(PreTokenizer.words(text) == words)
    }

    @Test func byteAlphabet() {
        #expect(ByteLevel.spell(Array(" \n!é".utf8)) == "ĠĊ!Ã©")
        #expect(Set(ByteLevel.scalars).count == 256)
        #expect(ByteLevel.scalars.allSatisfy { !isPythonWhitespace($0.value) })
    }

    @Test func pythonStrip() {
        #expect(" \u{1c}a b\u{a0}\u{3000}\n".pythonStripped() == "a b")
        #expect("\u{200b}x".pythonStripped() == "\u{200b}x") // ZWSP is not whitespace to Python
        #expect("   ".pythonStripped() == "")
    }

    func tiny(_ extra: [String] = RobertaTokenizer.telmeSpeakerTokens) throws -> RobertaTokenizer {
        let directory = try TestData.fixtures.appendingPathComponent("tiny")
        return try RobertaTokenizer(directory: directory, additionalSpecialTokens: extra)
    }

    /// merges.txt ranks: `Ġ t` 0, `h e` 1, `Ġt he` 2, `l l` 3, `e ll` 4, `ell o` 5, `a a` 6, `aa a` 7,
    /// `a b` 8, `h ell` 9, `ll o` 10, `b a` 11, `he llo` 12, `Ġt h` 13 (`x x y` has three parts).
    @Test func bpeMergesLowestRankFirst() throws {
        let tokenizer = try tiny()
        #expect(tokenizer.tokenize("aaaa") == ["aa", "aa"]) // left to right, non-overlapping
        #expect(tokenizer.tokenize("aaa") == ["aaa"]) // `a a` then `aa a`
        #expect(tokenizer.tokenize("hello") == ["hello"]) // he (1), ll (3), llo (10), hello (12)
        #expect(tokenizer.tokenize("abab") == ["ab", "ab"]) // `a b` (8) beats `b a` (11)
        #expect(tokenizer.tokenize(" the") == ["Ġthe"])
        #expect(tokenizer.tokenize("xxy") == ["x", "x", "y"]) // the three-part line never merges
    }

    @Test func mergeResultMissingFromVocabularyIsUnknown() throws {
        var tokenizer = try tiny()
        #expect(tokenizer.tokenize("llo") == ["llo"])
        #expect(tokenizer.encode("llo") == [tokenizer.unkID])
        #expect(tokenizer.unkID == 3)
    }

    @Test func addedTokenIdsFollowTheVocabulary() throws {
        let tokenizer = try tiny()
        // 4 specials + 256 bytes + 13 merge results (one left out) + <mask> = 274 entries.
        #expect(tokenizer.vocabularySize == 274)
        #expect(tokenizer.maskID == 273)
        #expect(tokenizer.id(of: "<s1>") == 274)
        #expect(tokenizer.id(of: "<s9>") == 282)
        #expect(tokenizer.id(of: "<s10>") == nil)
        #expect(tokenizer.count == 283)
        #expect(tokenizer.addedTokens.map(\.content) == ["<s>", "</s>", "<unk>", "<pad>", "<mask>"] + RobertaTokenizer.telmeSpeakerTokens)
    }

    @Test func specialTokensStripAsTransformersDoes() throws {
        let tokenizer = try tiny()
        // <s1> strips both sides; </s> strips nothing (a lone Ġ stays); <mask> strips only its left.
        #expect(tokenizer.tokenize("x <s1>  y") == ["x", "<s1>", "y"])
        #expect(tokenizer.tokenize("x </s> y") == ["x", "Ġ", "</s>", "Ġ", "y"])
        #expect(tokenizer.tokenize("x  <mask>  y") == ["x", "<mask>", "Ġ", "Ġ", "y"])
        // Python's whitespace (U+001C) is stripped; a ZWSP is not.
        #expect(tokenizer.tokenize("\u{1c}<s2>\u{1c}x") == ["<s2>", "x"])
        // Not special: <s10> (never added) and <S1>.
        #expect(tokenizer.tokenize("<s10>") == ["<", "s", "1", "0", ">"])
        #expect(tokenizer.tokenize("<s<s1>>") == ["<", "s", "<s1>", ">"])
        #expect(tokenizer.tokenize("<s1><s2>") == ["<s1>", "<s2>"])
        #expect(tokenizer.tokenize("") == [])
    }

    @Test func mergesFileQuirks() throws {
        let vocab = Data(#"{"<unk>": 0, "a": 1, "b": 2, "ab": 3, "ba": 4}"#.utf8)
        // The first line is always dropped, and so is the last element of the split (a merge
        // on an unterminated last line is lost); CRLF counts as a newline.
        var tokenizer = try RobertaTokenizer(vocabJSON: vocab, merges: Data("a b\r\nb a".utf8))
        #expect(tokenizer.tokenize("ab") == ["a", "b"])
        #expect(tokenizer.tokenize("ba") == ["b", "a"])
        tokenizer = try RobertaTokenizer(vocabJSON: vocab, merges: Data("#version: 0.2\r\na b\r\nb a".utf8))
        #expect(tokenizer.tokenize("ab") == ["ab"])
        #expect(tokenizer.tokenize("ba") == ["b", "a"])
        #expect(tokenizer.encode("aba") == [3, 1]) // `a b` outranks `b a`
        // A repeated pair takes its last rank.
        tokenizer = try RobertaTokenizer(vocabJSON: vocab, merges: Data("#v\na b\nb a\na b\n".utf8))
        #expect(tokenizer.encode("aba") == [1, 4])
    }

    @Test func badFilesAreReported() throws {
        #expect(throws: TokenizerError.invalidFile("vocab.json", "has no <unk> token (every RoBERTa vocabulary has one)")) {
            try RobertaTokenizer(vocabJSON: Data(#"{"a": 0}"#.utf8), merges: Data("#v\n".utf8))
        }
        #expect {
            try RobertaTokenizer(vocabJSON: Data(#"["a"]"#.utf8), merges: Data("#v\n".utf8))
        } throws: { error in
            (error as? TokenizerError)?.description.hasPrefix("vocab.json: expected a JSON object") == true
        }
        #expect(throws: TokenizerError.invalidFile("vocab.json", "the id of \"a\" is not a non-negative integer")) {
            try RobertaTokenizer(vocabJSON: Data(#"{"<unk>": 0, "a": "x"}"#.utf8), merges: Data("#v\n".utf8))
        }
        #expect(throws: TokenizerError.invalidFile("merges.txt", "not valid UTF-8")) {
            try RobertaTokenizer(vocabJSON: Data(#"{"<unk>": 0}"#.utf8), merges: Data([0x23, 0x0A, 0xFF, 0x0A]))
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("telme-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data(#"{"<unk>": 0}"#.utf8).write(to: directory.appendingPathComponent("vocab.json"))
        try Data([0x23, 0x0A, 0xC3, 0x0A]).write(to: directory.appendingPathComponent("merges.txt"))
        #expect(throws: TokenizerError.invalidFile(directory.appendingPathComponent("merges.txt").path, "not valid UTF-8")) {
            try RobertaTokenizer(directory: directory)
        }
        let missing = URL(fileURLWithPath: "/nonexistent/tokenizer")
        #expect {
            try RobertaTokenizer(directory: missing)
        } throws: { error in
            "\(error)".hasPrefix("/nonexistent/tokenizer/vocab.json: cannot read")
        }
    }
}
