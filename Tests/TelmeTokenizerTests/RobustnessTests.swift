import Foundation
import Testing
@testable import TelmeTokenizer
import TelmeTestSupport

/// Random text: no crash, and the memoised path gives what a fresh tokenizer gives.
@Suite struct RobustnessTests {
    /// Characters that hit every branch: specials' pieces, spaces of both kinds, letters,
    /// digits, marks, apostrophes, C1 controls, astral characters.
    static let alphabet: [String] = ["<", ">", "s", "1", "9", "/", "mask", "pad", " ", "  ", "\t", "\n", "\u{a0}",
                                     "\u{1c}", "\u{3000}", "'", "t", "ll", "a", "b", "h", "e", "l", "o", "\u{e9}",
                                     "e\u{301}", "\u{92}", "\u{661}", "\u{1F600}", "x", "<s1>", "</s>", "<mask>", "."]

    @Test(arguments: [1, 2, 3, 4] as [UInt64])
    func randomTextIsStable(seed: UInt64) throws {
        let fresh = try RobertaTokenizer.telme(directory: try TestData.fixtures.appendingPathComponent("tiny"))
        var memoised = fresh
        var random = SplitMix64(seed: seed)
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
