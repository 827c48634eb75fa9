/// Scalar-level reading of valid UTF-8 (the bytes of a Swift `String`), forwards and backwards.
///
/// The tokenizer works on the UTF-8 bytes of its input so that nothing is normalised and no
/// `String` comparison (which is by canonical equivalence) ever decides a match: transformers
/// compares code points, and so do we.
enum UTF8Scan {
    /// The scalar starting at `i` and the index just after it. `bytes` must be valid UTF-8.
    @inline(__always)
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, at i: Int) -> (value: UInt32, next: Int) {
        let b0 = UInt32(bytes[i])
        if b0 < 0x80 { return (b0, i + 1) }
        let n = bytes.count
        if b0 < 0xE0, i + 1 < n {
            return ((b0 & 0x1F) << 6 | UInt32(bytes[i + 1] & 0x3F), i + 2)
        }
        if b0 < 0xF0, i + 2 < n {
            return ((b0 & 0x0F) << 12 | UInt32(bytes[i + 1] & 0x3F) << 6 | UInt32(bytes[i + 2] & 0x3F), i + 3)
        }
        if i + 3 < n {
            return ((b0 & 0x07) << 18 | UInt32(bytes[i + 1] & 0x3F) << 12 | UInt32(bytes[i + 2] & 0x3F) << 6
                | UInt32(bytes[i + 3] & 0x3F), i + 4)
        }
        // Truncated sequence: cannot happen for a String's bytes; consume one byte.
        return (0xFFFD, i + 1)
    }

    /// The scalar that ends just before `end` and its first byte's index.
    @inline(__always)
    static func decodeBackward(_ bytes: UnsafeBufferPointer<UInt8>, before end: Int) -> (value: UInt32, start: Int) {
        var start = end - 1
        while start > 0, bytes[start] & 0xC0 == 0x80, end - start < 4 { start -= 1 }
        return (decode(bytes, at: start).value, start)
    }
}

/// Python's `str.isspace()`, which `str.strip()` uses: the characters whose bidirectional class
/// is WS, B or S, or whose category is Zs. Unlike Unicode's White_Space property (what `\s`
/// means in the `regex` module) it includes U+001C...U+001F.
@inline(__always)
func isPythonWhitespace(_ v: UInt32) -> Bool {
    switch v {
    case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
        return true
    default:
        return false
    }
}

extension String {
    /// Python's `str.strip()` with no argument (see `isPythonWhitespace`).
    func pythonStripped() -> String {
        var utf8 = Array(self.utf8)
        let range = utf8.withUnsafeBufferPointer { buffer in
            pythonStripRange(buffer, 0..<buffer.count, leading: true, trailing: true)
        }
        if range == 0..<utf8.count { return self }
        utf8 = Array(utf8[range])
        return String(decoding: utf8, as: UTF8.self)
    }
}

/// `range` without the Python whitespace at its start and/or end.
func pythonStripRange(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                      leading: Bool, trailing: Bool) -> Range<Int> {
    var lower = range.lowerBound
    var upper = range.upperBound
    if leading {
        while lower < upper {
            let (value, next) = UTF8Scan.decode(bytes, at: lower)
            guard isPythonWhitespace(value) else { break }
            lower = next
        }
    }
    if trailing {
        while upper > lower {
            let (value, start) = UTF8Scan.decodeBackward(bytes, before: upper)
            guard isPythonWhitespace(value) else { break }
            upper = start
        }
    }
    return lower..<upper
}
