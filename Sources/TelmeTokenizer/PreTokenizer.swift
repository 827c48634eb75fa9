/// GPT-2's pre-tokenisation: the words BPE then works on one at a time.
///
/// transformers' `RobertaTokenizer` splits with the `regex`-module pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
/// (`re.findall`, first alternative that matches wins, each quantifier greedy). This is that
/// pattern as a hand-written scanner over code points, including the backtracking of
/// `\s+(?!\S)`: a run of whitespace followed by a non-space gives up its last character, which
/// then prefixes the next word if it is U+0020 or stands alone otherwise. Contractions are
/// case-sensitive (`'S` is not one) and match anywhere, not only after a letter.
///
/// `\s` is Unicode White_Space (the `regex` module's meaning, not Python `str.isspace`),
/// `\p{L}`/`\p{N}` are the general categories L* and N*, from the Swift runtime's Unicode tables.
/// Those can differ from the `regex` module's only for code points that the runtime's Unicode
/// version leaves unassigned.
enum PreTokenizer {
    enum CharClass: UInt8, Sendable {
        case letter, number, whitespace, other
    }

    private static let asciiClasses: [CharClass] = (0..<128).map { value in
        let scalar = Unicode.Scalar(UInt8(value))
        return classifySlow(scalar)
    }

    private static func classifySlow(_ scalar: Unicode.Scalar) -> CharClass {
        let properties = scalar.properties
        if properties.isWhitespace { return .whitespace }
        switch properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            return .letter
        case .decimalNumber, .letterNumber, .otherNumber:
            return .number
        default:
            return .other
        }
    }

    @inline(__always)
    static func classify(_ value: UInt32) -> CharClass {
        if value < 128 { return asciiClasses[Int(value)] }
        guard let scalar = Unicode.Scalar(value) else { return .other }
        return classifySlow(scalar)
    }

    /// Calls `body` with the byte range of every word of `bytes[range]`, in order.
    /// `bytes` must be valid UTF-8 and `range` must start and end on scalar boundaries.
    static func forEachWord(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>,
                            scratch: inout Scratch, _ body: (Range<Int>) -> Void) {
        // Decode once: each scalar's value, class and first byte (plus the end as a sentinel).
        scratch.values.removeAll(keepingCapacity: true)
        scratch.classes.removeAll(keepingCapacity: true)
        scratch.starts.removeAll(keepingCapacity: true)
        var i = range.lowerBound
        while i < range.upperBound {
            let (value, next) = UTF8Scan.decode(bytes, at: i)
            scratch.values.append(value)
            scratch.classes.append(classify(value))
            scratch.starts.append(i)
            i = next
        }
        scratch.starts.append(range.upperBound)

        let values = scratch.values
        let classes = scratch.classes
        let starts = scratch.starts
        let n = values.count
        let apostrophe: UInt32 = 0x27, space: UInt32 = 0x20
        var p = 0
        while p < n {
            let end = matchEnd(at: p, values: values, classes: classes, count: n,
                               apostrophe: apostrophe, space: space)
            body(starts[p]..<starts[end])
            p = end
        }
    }

    /// Where the pattern's match starting at scalar `p` ends (exclusive). Never returns `p`.
    @inline(__always)
    private static func matchEnd(at p: Int, values: [UInt32], classes: [CharClass], count n: Int,
                                 apostrophe: UInt32, space: UInt32) -> Int {
        let c = values[p]
        // 's|'t|'re|'ve|'m|'ll|'d
        if c == apostrophe, p + 1 < n {
            switch values[p + 1] {
            case 0x73, 0x74, 0x6D, 0x64: // s t m d
                return p + 2
            case 0x72, 0x76: // r v -> 're 've
                if p + 2 < n, values[p + 2] == 0x65 { return p + 3 }
            case 0x6C: // l -> 'll
                if p + 2 < n, values[p + 2] == 0x6C { return p + 3 }
            default:
                break
            }
        }
        let cls = classes[p]
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the optional space is tried first, but
        // a space is itself whitespace, so either the word starts here or right after the space.
        if cls != .whitespace {
            // The word starts here; the run continues while the class stays the same.
            var q = p + 1
            while q < n, classes[q] == cls { q += 1 }
            return q
        }
        if c == space, p + 1 < n, classes[p + 1] != .whitespace {
            let wanted = classes[p + 1]
            var q = p + 2
            while q < n, classes[q] == wanted { q += 1 }
            return q
        }
        // Here `cls` is whitespace: `\s+(?!\S)`, else `\s+`.
        var q = p + 1
        while q < n, classes[q] == .whitespace { q += 1 }
        if q == n || q - p == 1 { return q }
        return q - 1
    }

    /// Reusable buffers, so that pre-tokenising allocates nothing once warmed up.
    struct Scratch: Sendable {
        var values: [UInt32] = []
        var classes: [CharClass] = []
        var starts: [Int] = []
    }
}

extension PreTokenizer {
    /// The words of `text` (for tests and debugging).
    static func words(_ text: String) -> [String] {
        var text = text
        var scratch = Scratch()
        var words: [String] = []
        text.withUTF8 { bytes in
            forEachWord(in: bytes, range: 0..<bytes.count, scratch: &scratch) { range in
                words.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
            }
        }
        return words
    }
}
