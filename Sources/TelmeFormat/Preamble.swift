/// The first 64 bytes of a `.telme` file (`Schemas/telme-format.md`): the magic, then eight
/// little-endian fields. `Field` lists the fields in file order, once: `bytes` writes them and
/// `init(reading:)` reads them from that list, and each field's byte offset (for messages)
/// comes from it too.
struct Preamble: Equatable {
    enum Field: CaseIterable {
        case version, flags, headerLength, tableLength, dataOffset, dataLength, headerChecksum, reserved

        /// u32 for the version and the flags, u64 for the rest.
        var size: Int {
            switch self {
            case .version, .flags: 4
            default: 8
            }
        }

        /// The field's first byte in the file.
        var offset: Int {
            Layout.magic.count + Self.allCases.prefix { $0 != self }.reduce(0) { $0 + $1.size }
        }
    }

    /// As read (a reader checks it against `Layout.magic`); a writer's is `Layout.magic`.
    var magic = Layout.magic
    var version = Layout.formatVersion
    /// Must be 0.
    var flags: UInt32 = 0
    /// Bytes of the header JSON, which follows the preamble.
    var headerLength: UInt64 = 0
    /// Bytes of the tensor table, which follows the header.
    var tableLength: UInt64 = 0
    /// Where the tensor data start: the end of the table rounded up to `Layout.alignment`.
    var dataOffset: UInt64 = 0
    var dataLength: UInt64 = 0
    /// XXH64 of the header JSON and the table.
    var headerChecksum: UInt64 = 0
    /// Must be 0.
    var reserved: UInt64 = 0

    init(headerLength: UInt64, tableLength: UInt64, dataOffset: UInt64, dataLength: UInt64, headerChecksum: UInt64) {
        self.headerLength = headerLength
        self.tableLength = tableLength
        self.dataOffset = dataOffset
        self.dataLength = dataLength
        self.headerChecksum = headerChecksum
    }

    /// The preamble of `bytes`, which hold at least `Layout.preambleSize` bytes (the caller
    /// checks); nothing about the values is checked here.
    init<Bytes: RandomAccessCollection>(reading bytes: Bytes) where Bytes.Element == UInt8, Bytes.Index == Int {
        let start = bytes.startIndex
        magic = Array(bytes[start..<(start + Layout.magic.count)])
        for field in Field.allCases {
            var value: UInt64 = 0
            for i in (0..<field.size).reversed() { value = value << 8 | UInt64(bytes[start + field.offset + i]) }
            self[field] = value
        }
    }

    /// The 64 bytes.
    var bytes: [UInt8] {
        var out = magic
        for field in Field.allCases {
            let value = self[field]
            for i in 0..<field.size { out.append(UInt8(truncatingIfNeeded: value >> (8 * i))) }
        }
        return out
    }

    subscript(field: Field) -> UInt64 {
        get {
            switch field {
            case .version: UInt64(version)
            case .flags: UInt64(flags)
            case .headerLength: headerLength
            case .tableLength: tableLength
            case .dataOffset: dataOffset
            case .dataLength: dataLength
            case .headerChecksum: headerChecksum
            case .reserved: reserved
            }
        }
        set {
            switch field {
            case .version: version = UInt32(truncatingIfNeeded: newValue)
            case .flags: flags = UInt32(truncatingIfNeeded: newValue)
            case .headerLength: headerLength = newValue
            case .tableLength: tableLength = newValue
            case .dataOffset: dataOffset = newValue
            case .dataLength: dataLength = newValue
            case .headerChecksum: headerChecksum = newValue
            case .reserved: reserved = newValue
            }
        }
    }
}
