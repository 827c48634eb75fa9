import Dispatch
import Foundation
import TelmeFiles
import TelmeModels

/// Validates a mapped `.telme` file, in the order the spec lists: preamble, sizes against the
/// file size, header checksum, header JSON, model description, tensor table, architecture,
/// overlaps, data checksums. Nothing is read from the file before its bounds are checked.
struct Parser {
    struct Result {
        var header: Header
        var entries: [Entry]
        var tokenizer: TokenizerFiles
        var dataOffset: Int
    }

    let path: String
    let bytes: UnsafeRawBufferPointer
    /// Off only for fuzzing (`TelmeFile(bytes:...)`), so that mutated headers reach the checks after it.
    var verifyHeaderChecksum = true

    private func failure(_ kind: TelmeFormatError.Kind, _ what: String, _ location: String? = nil) -> TelmeFormatError {
        TelmeFormatError(path: path, kind: kind, what: what, location: location)
    }

    /// The little-endian integer at `offset`; the caller has checked the bounds.
    private func integer<T: FixedWidthInteger>(at offset: Int, as: T.Type = T.self) -> T {
        var value: T = 0
        for i in 0..<MemoryLayout<T>.size {
            value |= T(bytes[offset + i]) << (8 * i)
        }
        return value
    }

    private static func hex(_ bytes: some Sequence<UInt8>) -> String {
        bytes.map { String(format: "%02X", $0) }.joined(separator: " ")
    }

    private static func hex64(_ value: UInt64) -> String {
        "0x" + String(value, radix: 16, uppercase: false)
    }

    /// Where the parts of the file are, from a checked preamble.
    struct Sections {
        /// The header JSON: from the end of the preamble to `tableStart`.
        var tableStart: Int
        var tableEnd: Int
        var dataOffset: Int
        var dataEnd: Int
    }

    /// Checks everything but the tensor data checksums (see `verifyData`).
    func parse() throws -> Result {
        let preamble = try readPreamble()
        let sections = try checkSizes(preamble)
        try checkHeaderChecksum(preamble.headerChecksum, sections)
        let header = try decodeHeader(sections)
        let entries = try parseTable(start: sections.tableStart, end: sections.tableEnd, dataOffset: sections.dataOffset)
        try checkArchitecture(entries, header: header, tableStart: sections.tableStart)
        try checkOverlaps(entries)
        try checkPacking(entries, dataOffset: sections.dataOffset, dataEnd: sections.dataEnd)

        func blob(_ name: String) -> Data {
            guard let entry = entries.first(where: { $0.name == name }) else { return Data() }
            return Data(bytes[Int(entry.offset)..<Int(entry.offset + entry.byteLength)])
        }
        let tokenizer = TokenizerFiles(vocabJSON: blob(Layout.vocabTensor), merges: blob(Layout.mergesTensor))
        return Result(header: header, entries: entries, tokenizer: tokenizer, dataOffset: sections.dataOffset)
    }

    /// The magic, the file's room for a preamble, and the fields that must hold fixed values.
    private func readPreamble() throws -> Preamble {
        let size = bytes.count
        let magicCount = min(size, Layout.magic.count)
        guard bytes[0..<magicCount].elementsEqual(Layout.magic[0..<magicCount]) else {
            throw failure(.badMagic, "not a .telme file: starts with \(Self.hex(bytes[0..<magicCount])), "
                + "expected \(Self.hex(Layout.magic))", "byte 0")
        }
        guard size >= Layout.preambleSize else {
            throw failure(.truncated, "truncated inside the \(Layout.preambleSize)-byte preamble (the file is \(size) bytes)",
                          "byte \(size)")
        }
        let preamble = Preamble(reading: bytes)
        guard preamble.version == Layout.formatVersion else {
            throw failure(.unsupportedVersion, "format version \(preamble.version) is not supported "
                + "(this reader reads version \(Layout.formatVersion))", "byte \(Preamble.Field.version.offset)")
        }
        guard preamble.flags == 0 else {
            throw failure(.badPreamble, "unknown flags \(Self.hex64(UInt64(preamble.flags))) (must be 0)",
                          "byte \(Preamble.Field.flags.offset)")
        }
        guard preamble.reserved == 0 else {
            throw failure(.badPreamble, "reserved field is \(Self.hex64(preamble.reserved)) (must be 0)",
                          "byte \(Preamble.Field.reserved.offset)")
        }
        return preamble
    }

    /// The lengths and offsets of the preamble against their limits and the file's size; the
    /// padding before the data.
    private func checkSizes(_ preamble: Preamble) throws -> Sections {
        let size = bytes.count
        let (headerLength, tableLength) = (preamble.headerLength, preamble.tableLength)
        guard headerLength <= Layout.maxHeaderLength else {
            throw failure(.headerTooLarge, "header length \(headerLength) exceeds the limit of \(Layout.maxHeaderLength) bytes",
                          "byte \(Preamble.Field.headerLength.offset)")
        }
        guard tableLength <= Layout.maxTableLength else {
            throw failure(.headerTooLarge, "tensor table length \(tableLength) exceeds the limit of \(Layout.maxTableLength) bytes",
                          "byte \(Preamble.Field.tableLength.offset)")
        }
        guard tableLength >= 4 else {
            throw failure(.badPreamble, "tensor table length \(tableLength) is too short for its tensor count",
                          "byte \(Preamble.Field.tableLength.offset)")
        }
        // Both lengths are bounded, so these sums cannot overflow.
        let tableStart = Layout.preambleSize + Int(headerLength)
        let tableEnd = tableStart + Int(tableLength)
        let expectedDataOffset = (tableEnd + Layout.alignment - 1) / Layout.alignment * Layout.alignment
        guard preamble.dataOffset == UInt64(expectedDataOffset) else {
            throw failure(.badPreamble, "data offset \(preamble.dataOffset) is not \(expectedDataOffset) "
                + "(the end of the tensor table rounded up to \(Layout.alignment))", "byte \(Preamble.Field.dataOffset.offset)")
        }
        let (dataEnd, dataEndOverflows) = preamble.dataOffset.addingReportingOverflow(preamble.dataLength)
        guard !dataEndOverflows else {
            throw failure(.badPreamble, "data offset \(preamble.dataOffset) + data length \(preamble.dataLength) overflows",
                          "byte \(Preamble.Field.dataLength.offset)")
        }
        guard size >= tableStart else {
            throw failure(.truncated, "truncated inside the header (the file is \(size) bytes, the header ends at byte \(tableStart))",
                          "byte \(size)")
        }
        guard size >= tableEnd else {
            throw failure(.truncated, "truncated inside the tensor table (the file is \(size) bytes, the table ends at byte \(tableEnd))",
                          "byte \(size)")
        }
        guard UInt64(size) >= dataEnd else {
            throw failure(.truncated, "truncated inside the tensor data (the file is \(size) bytes, the preamble declares \(dataEnd))",
                          "byte \(size)")
        }
        guard UInt64(size) == dataEnd else {
            throw failure(.badPreamble, "\(UInt64(size) - dataEnd) unexpected bytes after the end of the data", "byte \(dataEnd)")
        }
        for offset in tableEnd..<expectedDataOffset where bytes[offset] != 0 {
            throw failure(.badPreamble, "padding before the data is not zero", "byte \(offset)")
        }
        return Sections(tableStart: tableStart, tableEnd: tableEnd, dataOffset: expectedDataOffset, dataEnd: Int(dataEnd))
    }

    /// The header checksum covers the JSON and the table.
    private func checkHeaderChecksum(_ stored: UInt64, _ sections: Sections) throws {
        let computed = XXH64.hash(UnsafeRawBufferPointer(rebasing: bytes[Layout.preambleSize..<sections.tableEnd]))
        guard stored == computed || !verifyHeaderChecksum else {
            throw failure(.headerChecksum, "header checksum mismatch (stored \(Self.hex64(stored)), "
                + "computed \(Self.hex64(computed))): the header or tensor table is corrupted",
                          "bytes \(Layout.preambleSize)..<\(sections.tableEnd)")
        }
    }

    /// The header JSON, its dtype and its model description.
    private func decodeHeader(_ sections: Sections) throws -> Header {
        let header: Header
        do {
            header = try Header.decoder().decode(Header.self, from: Data(bytes[Layout.preambleSize..<sections.tableStart]))
        } catch {
            throw failure(.badHeader, "header JSON is invalid: \(Self.summary(of: error))", "byte \(Layout.preambleSize)")
        }
        guard header.tensorDtype.isFloat else {
            throw failure(.badHeader, "header tensor_dtype is \(header.tensorDtype.rawValue), expected f32, f16 or bf16",
                          "byte \(Layout.preambleSize)")
        }
        if let problem = ModelDescriptionCheck.problem(in: header.model) {
            throw failure(.badModel, "invalid model description: \(problem)", "byte \(Layout.preambleSize)")
        }
        return header
    }

    /// A table row and the byte where it starts, for messages.
    struct Entry {
        var info: TelmeTensorInfo
        var tableOffset: Int
        var name: String { info.name }
        var offset: UInt64 { info.offset }
        var byteLength: UInt64 { info.byteLength }
        var end: UInt64 { info.offset + info.byteLength }
    }

    private func parseTable(start: Int, end: Int, dataOffset: Int) throws -> [Entry] {
        let count: UInt32 = integer(at: start)
        var position = start + 4
        let smallestEntry = Layout.entryFixedSize + 1
        guard Int(count) <= (end - position) / smallestEntry else {
            throw failure(.badTable, "\(count) tensors cannot fit in a table of \(end - start) bytes", "byte \(start)")
        }
        var entries: [Entry] = []
        entries.reserveCapacity(Int(count))
        for index in 0..<Int(count) {
            entries.append(try parseEntry(index, at: &position, end: end, dataOffset: dataOffset))
        }
        guard position == end else {
            throw failure(.badTable, "\(end - position) unused bytes after the last table entry", "byte \(position)")
        }
        return entries
    }

    /// Throws unless `count` bytes from `position` lie inside the table (which ends at `end`).
    private func need(_ count: Int, _ what: String, at position: Int, end: Int) throws {
        guard end - position >= count else {
            throw failure(.badTable, "\(what) runs past the end of the tensor table (which ends at byte \(end))",
                          "byte \(position)")
        }
    }

    /// Table entry `index`, which starts at `position` (moved past it): its name, dtype, shape,
    /// data offset, byte length and checksum, each read within the table.
    private func parseEntry(_ index: Int, at position: inout Int, end: Int, dataOffset: Int) throws -> Entry {
        let entryStart = position
        try need(2, "the name length of table entry \(index)", at: position, end: end)
        let nameLength = Int(integer(at: position, as: UInt16.self))
        position += 2
        guard (1...Layout.maxNameLength).contains(nameLength) else {
            throw failure(.badTable, "table entry \(index) has a name length of \(nameLength) "
                + "(expected 1...\(Layout.maxNameLength))", "byte \(entryStart)")
        }
        try need(nameLength, "the name of table entry \(index)", at: position, end: end)
        guard let name = String(validating: bytes[position..<(position + nameLength)], as: UTF8.self) else {
            throw failure(.badTable, "the name of table entry \(index) is not UTF-8", "byte \(position)")
        }
        position += nameLength
        let location = "tensor \(name) (table byte \(entryStart))"
        try need(2, "table entry \(name)", at: position, end: end)
        let code = bytes[position]
        let rank = Int(bytes[position + 1])
        guard let dtype = TensorDType(code: code) else {
            throw failure(.unknownDType, "unknown dtype code \(code) (known: 1 f32, 2 f16, 3 bf16, 4 u8)", location)
        }
        guard rank <= Layout.maxRank else {
            throw failure(.badTable, "rank \(rank) exceeds \(Layout.maxRank)", location)
        }
        position += 2
        try need(8 * rank + 24, "table entry \(name)", at: position, end: end)
        var shape: [Int] = []
        for _ in 0..<rank {
            let dim: UInt64 = integer(at: position)
            guard let value = Int(exactly: dim), value <= ModelDescriptionCheck.maxDimension else {
                throw failure(.badTable, "dimension \(dim) is too large", location)
            }
            shape.append(value)
            position += 8
        }
        let info = TelmeTensorInfo(name: name, dtype: dtype, shape: shape, offset: integer(at: position),
                                   byteLength: integer(at: position + 8), checksum: integer(at: position + 16))
        position += 24
        try checkExtent(info, location: location, dataOffset: dataOffset)
        return Entry(info: info, tableOffset: entryStart)
    }

    /// A tensor's byte length against its shape, and its bytes inside the data section.
    private func checkExtent(_ info: TelmeTensorInfo, location: String, dataOffset: Int) throws {
        let (shape, dtype, offset, byteLength) = (info.shape, info.dtype, info.offset, info.byteLength)
        guard let elements = checkedProduct(shape),
              case let (expectedLength, overflow) = elements.multipliedReportingOverflow(by: dtype.size), !overflow
        else {
            throw failure(.badTable, "shape \(shape) of \(dtype.rawValue) holds more bytes than a file can", location)
        }
        guard byteLength == UInt64(expectedLength) else {
            throw failure(.badTable, "byte length \(byteLength) does not match shape \(shape) of \(dtype.rawValue) "
                + "(\(expectedLength) bytes)", location)
        }
        guard offset >= UInt64(dataOffset) else {
            throw failure(.badOffset, "data offset \(offset) lies before the data section (which starts at byte \(dataOffset))",
                          location)
        }
        guard offset % UInt64(Layout.alignment) == 0 else {
            throw failure(.misaligned, "data offset \(offset) is not a multiple of \(Layout.alignment)", location)
        }
        let (tensorEnd, endOverflows) = offset.addingReportingOverflow(byteLength)
        guard !endOverflows else {
            throw failure(.badOffset, "data offset \(offset) + byte length \(byteLength) overflows", location)
        }
        guard tensorEnd <= UInt64(bytes.count) else {
            throw failure(.badOffset, "data bytes \(offset)..<\(tensorEnd) extend past the end of the file "
                + "(\(bytes.count) bytes)", location)
        }
    }

    private func checkArchitecture(_ entries: [Entry], header: Header, tableStart: Int) throws {
        let specs = Architecture.tensorSpecs(for: header.model)
        var expected: [String: [Int]] = [:]
        for spec in specs { expected[spec.name] = spec.shape }
        var seen = Set<String>()
        for entry in entries {
            let location = "tensor \(entry.name) (table byte \(entry.tableOffset))"
            guard seen.insert(entry.name).inserted else {
                throw failure(.duplicateTensor, "tensor \(entry.name) appears twice in the table", location)
            }
            if entry.name == Layout.vocabTensor || entry.name == Layout.mergesTensor {
                guard entry.info.dtype == .u8, entry.info.shape.count == 1 else {
                    throw failure(.dtypeMismatch, "tokenizer blob \(entry.name) is \(entry.info.dtype.rawValue) "
                        + "of shape \(entry.info.shape), expected u8 of rank 1", location)
                }
                continue
            }
            guard let shape = expected[entry.name] else {
                throw failure(.unknownTensor, "tensor \(entry.name) is not part of the model's architecture", location)
            }
            guard entry.info.shape == shape else {
                throw failure(.shapeMismatch, "tensor \(entry.name) has shape \(entry.info.shape), "
                    + "the architecture expects \(shape)", location)
            }
            guard entry.info.dtype == header.tensorDtype else {
                throw failure(.dtypeMismatch, "tensor \(entry.name) is \(entry.info.dtype.rawValue), "
                    + "the header declares \(header.tensorDtype.rawValue)", location)
            }
        }
        for spec in specs where !seen.contains(spec.name) {
            throw failure(.missingTensor, "tensor \(spec.name) (shape \(spec.shape)) is missing from the tensor table",
                          "byte \(tableStart)")
        }
        for name in [Layout.vocabTensor, Layout.mergesTensor] where !seen.contains(name) {
            throw failure(.missingTensor, "tokenizer blob \(name) is missing from the tensor table", "byte \(tableStart)")
        }
    }

    private func checkOverlaps(_ entries: [Entry]) throws {
        let sorted = entries.filter { $0.byteLength > 0 }.sorted { $0.offset < $1.offset }
        for (previous, next) in zip(sorted, sorted.dropFirst()) where previous.end > next.offset {
            throw failure(.overlap, "tensors \(previous.name) (bytes \(previous.offset)..<\(previous.end)) and "
                + "\(next.name) (bytes \(next.offset)..<\(next.end)) overlap", "byte \(next.offset)")
        }
    }

    /// Tensors follow each other in table order, each at the first multiple of 64 at or after
    /// the end of the previous one, with zero padding, and the file ends with the last one:
    /// every byte of a valid file is accounted for.
    private func checkPacking(_ entries: [Entry], dataOffset: Int, dataEnd: Int) throws {
        var cursor = dataOffset
        for entry in entries {
            let location = "tensor \(entry.name) (table byte \(entry.tableOffset))"
            let expected = (cursor + Layout.alignment - 1) / Layout.alignment * Layout.alignment
            guard entry.offset == UInt64(expected) else {
                throw failure(.badOffset, "data offset \(entry.offset) is not \(expected) (tensors are stored in table order, "
                    + "each at the next multiple of \(Layout.alignment))", location)
            }
            for offset in cursor..<expected where bytes[offset] != 0 {
                throw failure(.badOffset, "padding before the tensor is not zero", "byte \(offset)")
            }
            cursor = Int(entry.end)
        }
        guard cursor == dataEnd else {
            throw failure(.badPreamble, "the data section ends at byte \(dataEnd), the last tensor at byte \(cursor)",
                          "byte \(Preamble.Field.dataLength.offset)")
        }
    }

    /// Hashes every tensor when `verify` is set and calls `alongside(index)` for each, on all
    /// cores when there is enough data to share (each worker gets tensors with about the same
    /// number of bytes), so that a tensor's bytes are read while they are in cache; then
    /// throws for the first tensor, in table order, whose checksum does not match.
    ///
    /// Every float tensor is also scanned for NaN and infinite values (whatever `verify` says),
    /// which the converter refuses: a file is used only when it holds what a conversion writes.
    func verifyData(_ entries: [Entry], verify: Bool, alongside: (@Sendable (Int) -> Void)? = nil) throws {
        let computed = UnsafeMutableBufferPointer<UInt64>.allocate(capacity: max(entries.count, 1))
        defer { computed.deallocate() }
        let nonFinite = UnsafeMutableBufferPointer<Int>.allocate(capacity: max(entries.count, 1))
        defer { nonFinite.deallocate() }
        let total = entries.reduce(0) { $0 + Int($1.byteLength) }
        let workers = total >= 64 << 20 ? max(1, min(ProcessInfo.processInfo.activeProcessorCount, 8)) : 1
        var shares = [[Int]](repeating: [], count: workers)
        var load = [Int](repeating: 0, count: workers)
        for index in entries.indices.sorted(by: { entries[$0].byteLength > entries[$1].byteLength }) {
            let worker = load.indices.min { load[$0] < load[$1] } ?? 0
            shares[worker].append(index)
            load[worker] += Int(entries[index].byteLength)
        }
        nonisolated(unsafe) let bytes = self.bytes
        let ranges = entries.map { Int($0.offset)..<Int($0.end) }
        let assignments = shares
        nonisolated(unsafe) let results = computed
        nonisolated(unsafe) let firstNonFinite = nonFinite
        let dtypes = entries.map(\.info.dtype)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for index in assignments[worker] {
                let data = UnsafeRawBufferPointer(rebasing: bytes[ranges[index]])
                if verify { results[index] = XXH64.hash(data) }
                firstNonFinite[index] = Self.firstNonFinite(data, dtype: dtypes[index])
                alongside?(index)
            }
        }
        if verify {
            for (index, entry) in entries.enumerated() where computed[index] != entry.info.checksum {
                throw failure(.dataChecksum, "data checksum mismatch (stored \(Self.hex64(entry.info.checksum)), "
                    + "computed \(Self.hex64(computed[index]))): the tensor's bytes are corrupted",
                              "tensor \(entry.name) (bytes \(entry.offset)..<\(entry.end))")
            }
        }
        for (index, entry) in entries.enumerated() where nonFinite[index] >= 0 {
            throw failure(.nonFiniteWeight, "element \(nonFinite[index]) (flat index) is NaN or infinite; the converter "
                + "refuses such weights: convert the model again from a sound checkpoint",
                          "tensor \(entry.name) (bytes \(entry.offset)..<\(entry.end))")
        }
    }

    /// The flat index of the first NaN or infinite element of little-endian `dtype` data, or -1
    /// (-1 too for `u8`, which is not float). All exponent bits set means NaN or infinity.
    static func firstNonFinite(_ data: UnsafeRawBufferPointer, dtype: TensorDType) -> Int {
        switch dtype {
        case .f32:
            for i in 0..<(data.count / 4)
            where UInt32(littleEndian: data.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)) & 0x7F80_0000 == 0x7F80_0000 {
                return i
            }
        case .f16, .bf16:
            let mask: UInt16 = dtype == .f16 ? 0x7C00 : 0x7F80
            for i in 0..<(data.count / 2)
            where UInt16(littleEndian: data.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)) & mask == mask {
                return i
            }
        case .u8:
            break
        }
        return -1
    }

    /// One line about a JSON decoding failure: what and at which key path.
    static func summary(of error: any Error) -> String {
        func path(_ codingPath: [any CodingKey]) -> String {
            let keys = codingPath.map { $0.intValue.map { "[\($0)]" } ?? snakeCase($0.stringValue) }
            return keys.isEmpty ? "the top level" : keys.joined(separator: ".")
        }
        // Coding keys are the Swift names; the file has their snake_case forms.
        func snakeCase(_ key: String) -> String {
            var out = ""
            for character in key {
                if character.isUppercase {
                    if !out.isEmpty { out.append("_") }
                    out += character.lowercased()
                } else {
                    out.append(character)
                }
            }
            return out
        }
        switch error as? DecodingError {
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            let underlying = (context.underlyingError as NSError?).map { " (\($0.localizedDescription.oneLine))" } ?? ""
            return "\(context.debugDescription.oneLine)\(underlying) at \(path(context.codingPath))"
        case .keyNotFound(let key, let context):
            return "missing key \(snakeCase(key.stringValue)) at \(path(context.codingPath))"
        default:
            return String(describing: error).oneLine
        }
    }
}
