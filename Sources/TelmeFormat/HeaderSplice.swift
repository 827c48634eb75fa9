import Foundation

extension TelmeFile {
    /// For the fuzz targets: `file` (a `.telme` whose preamble and table can be walked) with its
    /// header JSON replaced by `header`, the table's offsets moved to where the data now start,
    /// and every checksum (each tensor's, the header's) computed again, so that a mutated header
    /// or mutated weights reach the checks past the checksums, and model construction. Nil when
    /// `file` cannot be walked that far (short, lengths out of range).
    @_spi(Fuzzing)
    public static func withChecksumsRecomputed(_ file: Data, header: Data) -> Data? {
        let bytes = [UInt8](file)
        guard bytes.count >= Layout.preambleSize, header.count <= Layout.maxHeaderLength else { return nil }
        var preamble = Preamble(reading: bytes)
        func small(_ value: UInt64) -> Int? { value <= UInt64(Int32.max) ? Int(value) : nil }
        guard let headerLength = small(preamble.headerLength), let tableLength = small(preamble.tableLength),
              let dataOffset = small(preamble.dataOffset),
              Layout.preambleSize + headerLength + tableLength <= bytes.count, dataOffset <= bytes.count
        else { return nil }
        let oldTableStart = Layout.preambleSize + headerLength
        var table = Array(bytes[oldTableStart..<(oldTableStart + tableLength)])
        let tableEnd = Layout.preambleSize + header.count + tableLength
        let newDataOffset = (tableEnd + Layout.alignment - 1) / Layout.alignment * Layout.alignment
        let data = Array(bytes[dataOffset...])
        let shift = newDataOffset - dataOffset

        // Walk the table: u32 count; per entry u16 name length, name, u8 dtype, u8 rank,
        // rank x u64 dims, u64 offset, u64 byte length, u64 checksum.
        func field(_ at: Int, _ size: Int) -> UInt64? {
            guard at >= 0, at + size <= table.count else { return nil }
            var value: UInt64 = 0
            for i in (0..<size).reversed() { value = value << 8 | UInt64(table[at + i]) }
            return value
        }
        guard let count = field(0, 4) else { return nil }
        var position = 4
        for _ in 0..<min(Int(count), table.count) {
            guard let nameLength = field(position, 2) else { return nil }
            position += 2 + Int(nameLength)
            guard let rankByte = field(position + 1, 1) else { return nil }
            position += 2 + 8 * Int(rankByte)
            guard let offset = field(position, 8), let length = field(position + 8, 8), field(position + 16, 8) != nil,
                  let start = Int(exactly: offset).map({ $0 - dataOffset }), start >= 0,
                  let byteLength = Int(exactly: length), byteLength <= data.count - start
            else { return nil }
            let checksum = data.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[start..<(start + byteLength)])) }
            table.replaceSubrange(position..<(position + 8), with: UInt64(Int(offset) + shift).littleEndianBytes)
            table.replaceSubrange((position + 16)..<(position + 24), with: checksum.littleEndianBytes)
            position += 24
        }

        preamble.headerLength = UInt64(header.count)
        preamble.dataOffset = UInt64(newDataOffset)
        preamble.headerChecksum = XXH64.hash(Array(header) + table)
        var out = preamble.bytes + header + table
        out += [UInt8](repeating: 0, count: newDataOffset - tableEnd)
        out += data
        return Data(out)
    }

    /// For the fuzz targets: the header JSON of a `.telme` file, or nil.
    @_spi(Fuzzing)
    public static func headerJSON(of file: Data) -> Data? {
        let bytes = [UInt8](file)
        guard bytes.count >= Layout.preambleSize else { return nil }
        let length = Preamble(reading: bytes).headerLength
        guard length <= UInt64(bytes.count - Layout.preambleSize) else { return nil }
        return Data(bytes[Layout.preambleSize..<(Layout.preambleSize + Int(length))])
    }
}
