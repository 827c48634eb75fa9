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
    static func forEachWord(in bytes: UnsafeBufferPointer<UInt8>, range: Range<Int>, _ body: (Range<Int>) -> Void) {
        let end = range.upperBound
        var p = range.lowerBound
        while p < end {
            let q = matchEnd(bytes, at: p, end: end)
            body(p..<q)
            p = q
        }
    }

    /// Where the pattern's match starting at byte `p` ends (exclusive); always after `p`.
    @inline(__always)
    private static func matchEnd(_ bytes: UnsafeBufferPointer<UInt8>, at p: Int, end: Int) -> Int {
        let (c, afterC) = UTF8Scan.decode(bytes, at: p)
        // 's|'t|'re|'ve|'m|'ll|'d (all ASCII, so bytes compare directly).
        if c == 0x27, afterC < end {
            switch bytes[afterC] {
            case 0x73, 0x74, 0x6D, 0x64: // s t m d
                return afterC + 1
            case 0x72, 0x76: // 're 've
                if afterC + 1 < end, bytes[afterC + 1] == 0x65 { return afterC + 2 }
            case 0x6C: // 'll
                if afterC + 1 < end, bytes[afterC + 1] == 0x6C { return afterC + 2 }
            default:
                break
            }
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: the optional space is tried first, but a
        // space is whitespace itself, so the word starts either here or right after a space.
        let cls = classify(c)
        if cls != .whitespace { return runEnd(bytes, from: afterC, end: end, of: cls) }
        if c == 0x20, afterC < end {
            let (next, afterNext) = UTF8Scan.decode(bytes, at: afterC)
            let nextClass = classify(next)
            if nextClass != .whitespace { return runEnd(bytes, from: afterNext, end: end, of: nextClass) }
        }
        // `\s+(?!\S)`, else `\s+`: a run that a non-space follows gives up its last character,
        // unless that would leave nothing.
        var lastStart = p
        var q = afterC
        while q < end {
            let (value, next) = UTF8Scan.decode(bytes, at: q)
            guard classify(value) == .whitespace else { break }
            lastStart = q
            q = next
        }
        if q == end || lastStart == p { return q }
        return lastStart
    }

    /// The end of the run of `cls` characters starting at `start`.
    @inline(__always)
    private static func runEnd(_ bytes: UnsafeBufferPointer<UInt8>, from start: Int, end: Int, of cls: CharClass) -> Int {
        var q = start
        while q < end {
            let (value, next) = UTF8Scan.decode(bytes, at: q)
            guard classify(value) == cls else { break }
            q = next
        }
        return q
    }
}

extension PreTokenizer {
    /// The words of `text` (for tests and debugging).
    static func words(_ text: String) -> [String] {
        var text = text
        var words: [String] = []
        text.withUTF8 { bytes in
            forEachWord(in: bytes, range: 0..<bytes.count) { range in
                words.append(String(decoding: UnsafeBufferPointer(rebasing: bytes[range]), as: UTF8.self))
            }
        }
        return words
    }
}
