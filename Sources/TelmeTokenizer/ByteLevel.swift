/// GPT-2's reversible map from the 256 byte values to printable Unicode characters.
///
/// Byte-level BPE works on UTF-8 bytes, but `vocab.json` and `merges.txt` spell every byte as
/// one character: the printable Latin-1 bytes (`!`...`~`, `¡`...`¬`, `®`...`ÿ`) stand for
/// themselves and the other 68 bytes take U+0100, U+0101, ... in byte order (so a space is `Ġ`,
/// U+0120, and a newline `Ċ`, U+010A). None of these characters is whitespace, which is why
/// `merges.txt` can separate the two halves of a merge with a space.
enum ByteLevel {
    /// `scalars[b]` spells byte `b`.
    static let scalars: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (0x21...0x7E).contains(byte) || (0xA1...0xAC).contains(byte) || (0xAE...0xFF).contains(byte)
            if printable {
                table[byte] = Unicode.Scalar(UInt8(byte))
            } else {
                // 256 + 67 at most: always a valid scalar.
                table[byte] = Unicode.Scalar(next) ?? " "
                next += 1
            }
        }
        return table
    }()

    /// The spelling of `bytes` in the byte alphabet (how vocab.json writes a token).
    static func spell<C: Collection>(_ bytes: C) -> String where C.Element == UInt8 {
        var text = String.UnicodeScalarView()
        for byte in bytes { text.append(scalars[Int(byte)]) }
        return String(text)
    }
}
