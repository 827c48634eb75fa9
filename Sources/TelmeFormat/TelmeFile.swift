import Dispatch
import Foundation
import TelmeFiles
import TelmeModels
import TelmeTensor
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `.telme` model file, memory-mapped and fully validated before anything in it is used.
///
/// For `f32` files the weights are used in place from the mapping (no copy); `f16`/`bf16`
/// weights are converted to float32 once, at open, into memory the file object owns. Views
/// returned by `weight(_:)` stay valid while this object lives.
public final class TelmeFile: WeightSource, @unchecked Sendable {
    public let url: URL
    public let model: ModelDescription
    public let provenance: Provenance
    /// The float type of the stored model tensors.
    public let dtype: TensorDType
    public let tokenizerFiles: TokenizerFiles
    /// The format version written in the file's preamble.
    public let formatVersion: Int
    /// Size of the file in bytes.
    public let fileSize: Int
    /// Every tensor of the file (model tensors and the tokenizer blobs), in file order.
    public let tensorTable: [TelmeTensorInfo]
    /// Number of model weights (tokenizer blobs excluded).
    public let parameterCount: Int
    /// The file's identity: its header checksum (XXH64 of the header and the tensor table,
    /// which holds every tensor's checksum), as 16 hex digits. Two files with the same
    /// fingerprint hold the same model, settings and weights.
    public let fingerprint: String

    /// The mapping; unmapped in its own `deinit`, also when `init` throws half way.
    private let mapping: MappedFile
    /// float32 copies of `f16`/`bf16` weights (nil for `f32` files).
    private let converted: FloatStorage?
    private let weights: [String: WeightView]

    /// Maps the file and validates it (see `Schemas/telme-format.md`, "Validation"); throws
    /// `TelmeFormatError` naming the file and the offending byte offset or tensor.
    /// `verifyChecksums: false` skips the tensor data checksums only (the header's is always checked).
    public convenience init(contentsOf url: URL, verifyChecksums: Bool = true) throws {
        try self.init(url: url, mapping: MappedFile(path: url.path), verifyChecksums: verifyChecksums,
                      verifyHeaderChecksum: true)
    }

    /// Validates and opens a model held in memory (a copy of `bytes`); `name` names it in
    /// errors. For the fuzz targets: `verifyHeaderChecksum: false` lets arbitrary bytes reach
    /// the checks after the header checksum (header JSON, table, architecture, data), which a
    /// mutated file would otherwise almost never pass.
    @_spi(Fuzzing)
    public convenience init(bytes: Data, name: String, verifyChecksums: Bool, verifyHeaderChecksum: Bool) throws {
        try self.init(url: URL(fileURLWithPath: name), mapping: MappedFile(copying: bytes, path: name),
                      verifyChecksums: verifyChecksums, verifyHeaderChecksum: verifyHeaderChecksum)
    }

    private init(url: URL, mapping: MappedFile, verifyChecksums: Bool, verifyHeaderChecksum: Bool) throws {
        self.url = url
        self.mapping = mapping
        var parser = Parser(path: url.path, bytes: mapping.bytes)
        parser.verifyHeaderChecksum = verifyHeaderChecksum
        let parsed = try parser.parse()
        let entries = parsed.entries.map(\.info)
        model = parsed.header.model
        provenance = parsed.header.provenance
        dtype = parsed.header.tensorDtype
        formatVersion = Int(Layout.formatVersion)
        fileSize = mapping.bytes.count
        fingerprint = String(Preamble(reading: mapping.bytes).headerChecksum, radix: 16).leftPadded(to: 16)
        tensorTable = entries
        tokenizerFiles = parsed.tokenizer

        // Where each model tensor's float32 values go in `converted` (nil: used in place).
        var destinations = [Int?](repeating: nil, count: entries.count)
        var parameters = 0
        for (index, entry) in entries.enumerated() where entry.dtype.isFloat {
            destinations[index] = parameters
            parameters += entry.elementCount
        }
        parameterCount = parameters

        var weights: [String: WeightView] = [:]
        let inPlace = dtype == .f32 && UInt32(1).littleEndian == 1
        if inPlace {
            converted = nil
            try parser.verifyData(parsed.entries, verify: verifyChecksums)
            for entry in entries where entry.dtype.isFloat {
                let base = mapping.bytes.baseAddress! + Int(entry.offset)
                weights[entry.name] = WeightView(shape: entry.shape,
                                                 base: base.bindMemory(to: Float.self, capacity: entry.elementCount))
            }
        } else {
            let storage = try FloatStorage(count: parameters, path: url.path)
            converted = storage
            let targets = destinations
            // Each tensor is hashed, converted, then its pages of the file are released, so
            // the peak resident memory is the float32 copy, not the copy plus the file.
            try parser.verifyData(parsed.entries, verify: verifyChecksums) { index in
                guard let start = targets[index] else { return }
                let entry = entries[index]
                let source = UnsafeRawBufferPointer(rebasing: mapping.bytes[Int(entry.offset)..<Int(entry.offset + entry.byteLength)])
                let destination = UnsafeMutableBufferPointer(rebasing: storage.buffer[start..<(start + entry.elementCount)])
                Self.dequantise(source, as: entry.dtype, into: destination)
                _ = mapping.release(from: Int(entry.offset), to: Int(entry.offset + entry.byteLength))
            }
            for (index, entry) in entries.enumerated() {
                guard let start = targets[index] else { continue }
                weights[entry.name] = WeightView(shape: entry.shape, base: UnsafePointer(storage.buffer.baseAddress! + start))
            }
        }
        self.weights = weights
    }

    /// Whether the regular file at `path` starts with the `.telme` magic (opened without
    /// blocking; false for anything else).
    public static func hasMagic(_ path: String) -> Bool {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { return false }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0, info.st_mode & S_IFMT == S_IFREG else { return false }
        var head = [UInt8](repeating: 0, count: Layout.magic.count)
        return read(descriptor, &head, head.count) == head.count && head == Layout.magic
    }

    /// The float32 weights of the model tensor `name` (e.g. `teacher.W.weight`).
    /// Throws `WeightError` for a name the file does not hold (tokenizer blobs are not weights).
    public func weight(_ name: String) throws -> WeightView {
        guard let view = weights[name] else { throw WeightError(name: name) }
        return view
    }

    /// Drops the whole pages of `view` from the resident set when they are the mapped file's
    /// (a float32 file; a converted file's copy is kept): they are read again from the file if
    /// ever needed.
    public func release(_ view: WeightView) {
        guard converted == nil, let base = mapping.bytes.baseAddress else { return }
        let start = UnsafeRawPointer(view.base) - base
        let end = start + view.count * MemoryLayout<Float>.stride
        guard start >= 0, end <= mapping.bytes.count else { return }
        _ = mapping.release(from: start, to: end)
    }

    /// float32 values of little-endian `f32`, `f16` or `bf16` bytes.
    static func dequantise(_ source: UnsafeRawBufferPointer, as dtype: TensorDType,
                           into destination: UnsafeMutableBufferPointer<Float>) {
        guard let input = source.baseAddress, let output = destination.baseAddress else { return }
        let count = destination.count
        switch dtype {
        case .f32:
            for i in 0..<count {
                output[i] = Float(bitPattern: UInt32(littleEndian: input.loadUnaligned(fromByteOffset: i &* 4, as: UInt32.self)))
            }
        case .f16:
            for i in 0..<count {
                output[i] = HalfPrecision.float(
                    float16Bits: UInt16(littleEndian: input.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
            }
        case .bf16:
            for i in 0..<count {
                output[i] = HalfPrecision.float(
                    bfloat16Bits: UInt16(littleEndian: input.loadUnaligned(fromByteOffset: i &* 2, as: UInt16.self)))
            }
        case .u8:
            break
        }
    }
}

/// A read-only private mapping of a whole file (`mmap`), unmapped in `deinit` (`munmap`);
/// or, for in-memory models, an owned copy of the bytes.
final class MappedFile: @unchecked Sendable {
    let bytes: UnsafeRawBufferPointer
    private let path: String
    /// The bytes are an allocated copy, not a mapping.
    private let isCopy: Bool

    init(copying data: Data, path: String) throws {
        self.path = path
        guard !data.isEmpty else { throw Self.empty(path) }
        let memory = UnsafeMutableRawBufferPointer.allocate(byteCount: data.count, alignment: Layout.alignment)
        memory.copyBytes(from: data)
        bytes = UnsafeRawBufferPointer(memory)
        isCopy = true
    }

    private static func empty(_ path: String) -> TelmeFormatError {
        TelmeFormatError(path: path, kind: .truncated,
                         what: "the file is empty (a .telme file starts with a \(Layout.preambleSize)-byte preamble)",
                         location: "byte 0")
    }

    init(path: String) throws {
        self.path = path
        isCopy = false
        func failure(_ what: String) -> TelmeFormatError {
            TelmeFormatError(path: path, kind: .io, what: "\(what): \(String(cString: strerror(errno)))")
        }
        // O_NONBLOCK: a FIFO must not block the open; fstat refuses it below.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw failure("cannot open the file") }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure("cannot stat the file") }
        guard (info.st_mode & S_IFMT) == S_IFREG else {
            throw TelmeFormatError(path: path, kind: .io, what: RegularFile.kindProblem(info.st_mode) ?? "not a regular file")
        }
        let size = Int(info.st_size)
        guard size > 0 else { throw Self.empty(path) }
        let address = mmap(nil, size, PROT_READ, MAP_PRIVATE, descriptor, 0)
        guard let address, address != MAP_FAILED else { throw failure("cannot map the file") }
        bytes = UnsafeRawBufferPointer(start: UnsafeRawPointer(address), count: size)
    }

    deinit {
        if isCopy {
            bytes.deallocate()
        } else if let base = bytes.baseAddress {
            munmap(UnsafeMutableRawPointer(mutating: base), bytes.count)
        }
    }

    /// Drops the whole pages inside `start..<end` from the resident set
    /// (`madvise(MADV_DONTNEED)`); the contents stay readable. Returns where the next call
    /// should start (the first byte not released).
    func release(from start: Int, to end: Int) -> Int {
        guard !isCopy, let base = bytes.baseAddress else { return start }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        guard page > 0 else { return start }
        let first = (start + page - 1) / page * page
        let last = end / page * page
        guard first < last else { return start }
        _ = madvise(UnsafeMutableRawPointer(mutating: base + first), last - first, MADV_DONTNEED)
        return last
    }
}

/// Owned float32 memory: an anonymous mapping (`mmap`), pre-faulted by the kernel in one call
/// (`MAP_POPULATE`) rather than by a page fault every 4 KB while the weights are converted;
/// unmapped in `deinit`. Failure to allocate is an error, not a crash.
///
/// Transparent huge pages (`MADV_HUGEPAGE`) were measured slower on the project's VM (fresh
/// 2 MB pages cost 3-4x more to clear than recycled 4 KB ones), so they are not requested.
final class FloatStorage: @unchecked Sendable {
    let buffer: UnsafeMutableBufferPointer<Float>
    private let byteCount: Int

    init(count: Int, path: String) throws {
        let (bytes, overflow) = max(count, 1).multipliedReportingOverflow(by: MemoryLayout<Float>.stride)
        #if os(Linux)
        let flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE
        #else
        let flags = MAP_PRIVATE | MAP_ANONYMOUS
        #endif
        let address = overflow ? MAP_FAILED : mmap(nil, bytes, PROT_READ | PROT_WRITE, flags, -1, 0)
        guard let address, address != MAP_FAILED else {
            throw TelmeFormatError(path: path, kind: .io, what: "cannot allocate \(count) float32 weights: "
                + String(cString: strerror(errno)))
        }
        byteCount = bytes
        buffer = UnsafeMutableBufferPointer(start: address.bindMemory(to: Float.self, capacity: max(count, 1)),
                                            count: max(count, 1))
    }

    deinit {
        munmap(UnsafeMutableRawPointer(buffer.baseAddress), byteCount)
    }
}

extension String {
    /// The string with leading zeros up to `width` characters.
    fileprivate func leftPadded(to width: Int) -> String {
        String(repeating: "0", count: max(0, width - count)) + self
    }
}
