import Foundation
import Testing
@testable import TelmeTokenizer

/// Random text: no crash, and the memoised path gives what a fresh tokenizer gives.
@Suite struct RobustnessTests {
    /// xorshift64*, so that a failure can be replayed from its seed.
    struct Generator: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state ^= state >> 12
            state ^= state << 25
            state ^= state >> 27
            return state &* 2_685_821_657_736_338_717
        }
    }

    /// Characters that hit every branch: specials' pieces, spaces of both kinds, letters,
    /// digits, marks, apostrophes, C1 controls, astral characters.
    static let alphabet: [String] = ["<", ">", "s", "1", "9", "/", "mask", "pad", " ", "  ", "\t", "\n", "\u{a0}",
                                     "\u{1c}", "\u{3000}", "'", "t", "ll", "a", "b", "h", "e", "l", "o", "\u{e9}",
                                     "e\u{301}", "\u{92}", "\u{661}", "\u{1F600}", "x", "<s1>", "</s>", "<mask>", "."]

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomTextIsStable(seed: UInt64) throws {
        let fresh = try RobertaTokenizer.telme(directory: try TestData.fixtures.appendingPathComponent("tiny"))
        var memoised = fresh
        var random = Generator(state: seed &* 0x9E37_79B9_7F4A_7C15 | 1)
        for _ in 0..<300 {
            let length = Int.random(in: 0..<40, using: &random)
            let text = (0..<length).map { _ in Self.alphabet.randomElement(using: &random) ?? "" }.joined()
            let ids = memoised.encode(text)
            #expect(ids.count == fresh.tokenize(text).count, "\(text.debugDescription)")
            var again = fresh
            #expect(again.encode(text) == ids, "\(text.debugDescription)")
            #expect(ids.allSatisfy { $0 >= 0 && $0 < fresh.count })
        }
    }
}
