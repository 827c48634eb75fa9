import Foundation

/// The merge table of byte-level BPE, with every string a merge can produce interned as a
/// symbol: symbols 0...255 are the single bytes, the rest come from `merges.txt`.
final class BPEModel: Sendable {
    /// UTF-8 of each symbol's spelling in the byte alphabet (as vocab.json and merges.txt write it).
    let symbolSpellings: [[UInt8]]
    /// (left << 32 | right) -> (rank << 32 | merged symbol).
    private let merges: [UInt64: UInt64]

    var symbolCount: Int { symbolSpellings.count }

    /// Parses `merges.txt` exactly as transformers 4.27 `RobertaTokenizer` does: the text is
    /// split on newlines (after universal-newline translation: CRLF and CR count as LF), the
    /// first line (`#version`) and the last element (empty after the final newline) are
    /// dropped, each line is split on Python whitespace and its 0-based position is its rank;
    /// lines that do not hold exactly two parts keep their rank but can never match, and a
    /// repeated pair takes its last rank.
    init(merges data: Data, file: String) throws(TokenizerError) {
        let bytes = [UInt8](data)
        guard String(data: data, encoding: .utf8) != nil else {
            throw .invalidFile(file, "not valid UTF-8")
        }
        var lines: [Range<Int>] = []
        var lineStart = 0, i = 0
        while i < bytes.count {
            if bytes[i] == 0x0A || bytes[i] == 0x0D {
                lines.append(lineStart..<i)
                i += (bytes[i] == 0x0D && i + 1 < bytes.count && bytes[i + 1] == 0x0A) ? 2 : 1
                lineStart = i
            } else {
                i += 1
            }
        }
        lines.append(lineStart..<bytes.count)
        guard lines.count >= 2 else {
            throw .invalidFile(file, "expected a version line and one merge per line")
        }
        lines.removeFirst()
        lines.removeLast()

        var spellings = ByteLevel.scalars.map { Array(String($0).utf8) }
        var symbolOfSpelling: [[UInt8]: Int32] = [:]
        for (index, spelling) in spellings.enumerated() { symbolOfSpelling[spelling] = Int32(index) }
        func intern(_ spelling: [UInt8]) -> Int32 {
            if let symbol = symbolOfSpelling[spelling] { return symbol }
            let symbol = Int32(spellings.count)
            spellings.append(spelling)
            symbolOfSpelling[spelling] = symbol
            return symbol
        }

        var table: [UInt64: UInt64] = [:]
        table.reserveCapacity(lines.count)
        bytes.withUnsafeBufferPointer { buffer in
            var parts: [Range<Int>] = []
            for (rank, line) in lines.enumerated() {
                Self.splitOnPythonWhitespace(buffer, line, into: &parts)
                guard parts.count == 2 else { continue }
                let left = Array(buffer[parts[0]]), right = Array(buffer[parts[1]])
                let merged = intern(left + right)
                table[Self.key(intern(left), intern(right))] = UInt64(rank) << 32 | UInt64(UInt32(bitPattern: merged))
            }
        }
        symbolSpellings = spellings
        merges = table
    }

    /// Python's `str.split()`: runs of whitespace code points separate, empty parts vanish.
    private static func splitOnPythonWhitespace(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>,
                                                into parts: inout [Range<Int>]) {
        parts.removeAll(keepingCapacity: true)
        var partStart: Int?
        var i = range.lowerBound
        while i < range.upperBound {
            let (value, next) = UTF8Scan.decode(bytes, at: i)
            if isPythonWhitespace(value) {
                if let start = partStart { parts.append(start..<i) }
                partStart = nil
            } else if partStart == nil {
                partStart = i
            }
            i = next
        }
        if let start = partStart { parts.append(start..<range.upperBound) }
    }

    @inline(__always)
    private static func key(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }

    /// BPE of one word: repeatedly merge every occurrence (left to right, non-overlapping) of
    /// the adjacent pair with the lowest rank, until no adjacent pair has a rank.
    func apply(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, into word: inout [Int32], scratch: inout [Int32]) {
        word.removeAll(keepingCapacity: true)
        for i in range { word.append(Int32(bytes[i])) }
        while word.count > 1 {
            var bestRank = UInt64.max
            var best: (left: Int32, right: Int32, merged: Int32) = (0, 0, 0)
            for i in 0..<(word.count - 1) {
                if let entry = merges[Self.key(word[i], word[i + 1])], entry >> 32 < bestRank {
                    bestRank = entry >> 32
                    best = (word[i], word[i + 1], Int32(bitPattern: UInt32(truncatingIfNeeded: entry)))
                }
            }
            if bestRank == UInt64.max { break }
            scratch.removeAll(keepingCapacity: true)
            var i = 0
            while i < word.count {
                if i + 1 < word.count, word[i] == best.left, word[i + 1] == best.right {
                    scratch.append(best.merged)
                    i += 2
                } else {
                    scratch.append(word[i])
                    i += 1
                }
            }
            swap(&word, &scratch)
        }
    }
}
