import Foundation
import TelmeModels
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One row of the tensor table: where a tensor's bytes are and what they hold.
public struct TelmeTensorInfo: Equatable, Sendable {
    public var name: String
    public var dtype: TensorDType
    public var shape: [Int]
    /// Absolute byte offset in the file (a multiple of 64).
    public var offset: UInt64
    public var byteLength: UInt64
    /// XXH64 (seed 0) of the tensor's bytes.
    public var checksum: UInt64

    public init(name: String, dtype: TensorDType, shape: [Int], offset: UInt64, byteLength: UInt64, checksum: UInt64) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.offset = offset
        self.byteLength = byteLength
        self.checksum = checksum
    }

    /// Number of elements.
    public var elementCount: Int { shape.reduce(1, *) }
}

/// Writes `.telme` files (layout: `Schemas/telme-format.md`).
public enum TelmeWriter {
    /// Writes tensors in `Architecture.tensorSpecs(for: model)` order; `values` is called once
    /// per spec and must return exactly shape.product floats. Writes to a temporary file in the
    /// same folder and renames it into place (never leaves a half file at `url`).
    ///
    /// Model tensors are stored as `dtype` (`f32`, `f16` or `bf16`, rounded to nearest even);
    /// the tokenizer files become the `u8` tensors `tokenizer.vocab_json` and
    /// `tokenizer.merges_txt`. Only one tensor's values are held in memory at a time.
    public static func write(to url: URL, model: ModelDescription, provenance: Provenance, tokenizer: TokenizerFiles,
                             dtype: TensorDType, values: (TensorSpec) throws -> [Float]) throws {
        let path = url.path
        func failure(_ kind: TelmeFormatError.Kind, _ what: String, _ location: String? = nil) -> TelmeFormatError {
            TelmeFormatError(path: path, kind: kind, what: what, location: location)
        }
        guard dtype.isFloat else { throw failure(.write, "model tensors cannot be stored as \(dtype.rawValue)") }
        if let problem = ModelValidation.problem(in: model) {
            throw failure(.badModel, "invalid model description: \(problem)")
        }

        // Layout first: every size is known from the architecture, so the table (whose
        // checksums are patched in at the end) has its final length already.
        let specs = Architecture.tensorSpecs(for: model)
        var entries: [TelmeTensorInfo] = []
        entries.reserveCapacity(specs.count + 2)
        for spec in specs {
            guard let count = checkedProduct(spec.shape),
                  case let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size), !overflow
            else { throw failure(.badModel, "tensor size overflows", "tensor \(spec.name)") }
            entries.append(TelmeTensorInfo(name: spec.name, dtype: dtype, shape: spec.shape, offset: 0,
                                           byteLength: UInt64(bytes), checksum: 0))
        }
        entries.append(TelmeTensorInfo(name: Layout.vocabTensor, dtype: .u8, shape: [tokenizer.vocabJSON.count],
                                       offset: 0, byteLength: UInt64(tokenizer.vocabJSON.count), checksum: 0))
        entries.append(TelmeTensorInfo(name: Layout.mergesTensor, dtype: .u8, shape: [tokenizer.merges.count],
                                       offset: 0, byteLength: UInt64(tokenizer.merges.count), checksum: 0))

        let header = Header(model: model, provenance: provenance, tensorDtype: dtype)
        let headerJSON: [UInt8]
        do {
            headerJSON = Array(try Header.encoder().encode(header))
        } catch {
            throw failure(.write, "cannot encode the header: \(error)")
        }
        let tableLength = encodeTable(entries).count
        guard var cursor = Layout.aligned(UInt64(Layout.preambleSize + headerJSON.count + tableLength)) else {
            throw failure(.write, "header too large")
        }
        let dataOffset = cursor
        for i in entries.indices {
            entries[i].offset = cursor
            guard let next = Layout.aligned(cursor &+ entries[i].byteLength), next >= cursor else {
                throw failure(.write, "file size overflows", "tensor \(entries[i].name)")
            }
            cursor = next
        }
        // The file ends right after the last tensor: no trailing padding.
        let fileEnd = entries.last.map { $0.offset + $0.byteLength } ?? dataOffset

        let output = try TemporaryOutput(destination: url)
        do {
            for (index, spec) in specs.enumerated() {
                let floats = try values(spec)
                let expected = entries[index].elementCount
                guard floats.count == expected else {
                    throw failure(.write, "the importer gave \(floats.count) values for shape \(spec.shape), "
                        + "expected \(expected)", "tensor \(spec.name)")
                }
                let bytes = encode(floats, as: dtype)
                entries[index].checksum = bytes.withUnsafeBytes { XXH64.hash($0) }
                try bytes.withUnsafeBytes { try output.write($0, at: entries[index].offset) }
            }
            for (index, blob) in [(specs.count, tokenizer.vocabJSON), (specs.count + 1, tokenizer.merges)] {
                entries[index].checksum = XXH64.hash(blob)
                try blob.withUnsafeBytes { try output.write($0, at: entries[index].offset) }
            }

            let table = encodeTable(entries)
            var head = [UInt8]()
            head.reserveCapacity(Int(dataOffset))
            head += Layout.magic
            head.appendLittleEndian(Layout.formatVersion)
            head.appendLittleEndian(UInt32(0))
            head.appendLittleEndian(UInt64(headerJSON.count))
            head.appendLittleEndian(UInt64(table.count))
            head.appendLittleEndian(dataOffset)
            head.appendLittleEndian(fileEnd - dataOffset)
            let checksum = (headerJSON + table).withUnsafeBytes { XXH64.hash($0) }
            head.appendLittleEndian(checksum)
            head.appendLittleEndian(UInt64(0))
            head += headerJSON
            head += table
            head += [UInt8](repeating: 0, count: Int(dataOffset) - head.count)
            try head.withUnsafeBytes { try output.write($0, at: 0) }
            try output.finish(size: fileEnd)
        } catch {
            output.abandon()
            throw error
        }
    }

    /// The tensor table's bytes (see the spec): count, then one entry per tensor.
    static func encodeTable(_ entries: [TelmeTensorInfo]) -> [UInt8] {
        var table = [UInt8]()
        table.appendLittleEndian(UInt32(entries.count))
        for entry in entries {
            let name = Array(entry.name.utf8)
            table.appendLittleEndian(UInt16(name.count))
            table += name
            table.append(entry.dtype.code)
            table.append(UInt8(entry.shape.count))
            for dim in entry.shape { table.appendLittleEndian(UInt64(dim)) }
            table.appendLittleEndian(entry.offset)
            table.appendLittleEndian(entry.byteLength)
            table.appendLittleEndian(entry.checksum)
        }
        return table
    }

    /// `values` as little-endian bytes of `dtype`.
    static func encode(_ values: [Float], as dtype: TensorDType) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: values.count * dtype.size)
        bytes.withUnsafeMutableBytes { out in
            values.withUnsafeBufferPointer { input in
                switch dtype {
                case .f32:
                    for (i, v) in input.enumerated() {
                        out.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i &* 4, as: UInt32.self)
                    }
                case .f16:
                    for (i, v) in input.enumerated() {
                        out.storeBytes(of: HalfPrecision.float16Bits(v).littleEndian, toByteOffset: i &* 2, as: UInt16.self)
                    }
                case .bf16:
                    for (i, v) in input.enumerated() {
                        out.storeBytes(of: HalfPrecision.bfloat16Bits(v).littleEndian, toByteOffset: i &* 2, as: UInt16.self)
                    }
                case .u8:
                    break
                }
            }
        }
        return bytes
    }
}

/// Product of `shape`, or nil when a dimension is negative or the product overflows.
func checkedProduct(_ shape: [Int]) -> Int? {
    var product = 1
    for dim in shape {
        guard dim >= 0 else { return nil }
        let (next, overflow) = product.multipliedReportingOverflow(by: dim)
        if overflow { return nil }
        product = next
    }
    return product
}

/// A file created next to its destination and renamed onto it only when complete.
private final class TemporaryOutput {
    let destination: URL
    let temporaryPath: String
    private var descriptor: Int32

    /// Creates `.<name>.<pid>.<random>.tmp` in the destination's folder (`open` with `O_EXCL`).
    init(destination: URL) throws {
        self.destination = destination
        let folder = destination.deletingLastPathComponent()
        let name = ".\(destination.lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
        temporaryPath = folder.appendingPathComponent(name).path
        descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else {
            throw TelmeFormatError(path: destination.path, kind: .io,
                                   what: "cannot create \(temporaryPath): \(String(cString: strerror(errno)))")
        }
    }

    deinit {
        if descriptor >= 0 {
            close(descriptor)
            unlink(temporaryPath)
        }
    }

    private func ioError(_ what: String) -> TelmeFormatError {
        TelmeFormatError(path: destination.path, kind: .io, what: "\(what): \(String(cString: strerror(errno)))")
    }

    /// Writes all of `bytes` at `offset` (`pwrite`, repeated for partial writes).
    func write(_ bytes: UnsafeRawBufferPointer, at offset: UInt64) throws {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        var position = off_t(offset)
        while remaining > 0 {
            let written = pwrite(descriptor, base, remaining, position)
            if written < 0 {
                if errno == EINTR { continue }
                throw ioError("cannot write at byte \(position)")
            }
            remaining -= written
            base += written
            position += off_t(written)
        }
    }

    /// Sets the final size, flushes to disk (`fsync`) and renames onto the destination.
    func finish(size: UInt64) throws {
        guard ftruncate(descriptor, off_t(size)) == 0 else { throw ioError("cannot set the file size") }
        guard fsync(descriptor) == 0 else { throw ioError("cannot flush the file") }
        guard close(descriptor) == 0 else {
            descriptor = -1
            unlink(temporaryPath)
            throw ioError("cannot close the file")
        }
        descriptor = -1
        guard rename(temporaryPath, destination.path) == 0 else {
            let error = ioError("cannot rename \(temporaryPath) into place")
            unlink(temporaryPath)
            throw error
        }
    }

    /// Removes the temporary file.
    func abandon() {
        if descriptor >= 0 {
            close(descriptor)
            descriptor = -1
        }
        unlink(temporaryPath)
    }
}
