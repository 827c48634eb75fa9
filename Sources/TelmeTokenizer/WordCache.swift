/// Byte string -> piece ids, the memo that makes BPE cheap on real text (transformers keeps the
/// same per-word cache). Open addressing over two arenas, so a lookup hashes the caller's bytes
/// in place and allocates nothing; keys compare byte for byte.
struct WordCache: Sendable {
    private struct Slot: Sendable {
        var hash: UInt64 = 0
        var keyStart: Int32 = 0
        var keyCount: Int32 = -1 // -1: empty
        var valueStart: Int32 = 0
        var valueCount: Int32 = 0
    }

    private var slots: [Slot] = Array(repeating: Slot(), count: 1 << 12)
    private var keyBytes: [UInt8] = []
    private var valueIDs: [Int32] = []
    private(set) var count = 0

    /// Past these sizes the cache starts over rather than grow without bound on huge corpora.
    private static let maxEntries = 1 << 21
    private static let maxArena = 1 << 28
    /// Longer keys or values are not memoised.
    private static let maxItem = 1 << 16

    @inline(__always)
    static func hash(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325 // FNV-1a
        for i in range { h = (h ^ UInt64(bytes[i])) &* 0x0000_0100_0000_01B3 }
        return h
    }

    private func find(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, hash: UInt64) -> (slot: Int, found: Bool) {
        let mask = slots.count - 1
        var index = Int(truncatingIfNeeded: hash) & mask
        while true {
            let slot = slots[index]
            if slot.keyCount < 0 { return (index, false) }
            if slot.hash == hash, Int(slot.keyCount) == range.count {
                let start = Int(slot.keyStart)
                var equal = true
                var k = 0
                for i in range {
                    if keyBytes[start + k] != bytes[i] { equal = false; break }
                    k += 1
                }
                if equal { return (index, true) }
            }
            index = (index + 1) & mask
        }
    }

    /// Appends the cached pieces of `bytes[range]` to `output`; false when not cached.
    func append(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, hash: UInt64, to output: inout [Int32]) -> Bool {
        let (index, found) = find(bytes, range, hash: hash)
        guard found else { return false }
        let slot = slots[index]
        let start = Int(slot.valueStart)
        output.append(contentsOf: valueIDs[start..<(start + Int(slot.valueCount))])
        return true
    }

    mutating func insert(_ bytes: UnsafeBufferPointer<UInt8>, _ range: Range<Int>, hash: UInt64, pieces: ArraySlice<Int32>) {
        guard range.count <= Self.maxItem, pieces.count <= Self.maxItem else { return }
        if count >= Self.maxEntries || keyBytes.count + range.count > Self.maxArena
            || valueIDs.count + pieces.count > Self.maxArena {
            self = WordCache()
        }
        if (count + 1) * 4 > slots.count * 3 { grow() }
        let (index, found) = find(bytes, range, hash: hash)
        if found { return }
        let slot = Slot(hash: hash, keyStart: Int32(keyBytes.count), keyCount: Int32(range.count),
                        valueStart: Int32(valueIDs.count), valueCount: Int32(pieces.count))
        keyBytes.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[range]))
        valueIDs.append(contentsOf: pieces)
        slots[index] = slot
        count += 1
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: Slot(), count: old.count * 2)
        let mask = slots.count - 1
        for slot in old where slot.keyCount >= 0 {
            var index = Int(truncatingIfNeeded: slot.hash) & mask
            while slots[index].keyCount >= 0 { index = (index + 1) & mask }
            slots[index] = slot
        }
    }
}
