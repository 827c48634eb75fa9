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
        guard dtype.isFloat else {
            throw TelmeFormatError(path: path, kind: .write, what: "model tensors cannot be stored as \(dtype.rawValue)")
        }
        if let problem = ModelDescriptionCheck.problem(in: model) {
            throw TelmeFormatError(path: path, kind: .badModel, what: "invalid model description: \(problem)")
        }
        let specs = Architecture.tensorSpecs(for: model)
        let headerJSON: [UInt8]
        do {
            headerJSON = Array(try Header.encoder().encode(Header(model: model, provenance: provenance, tensorDtype: dtype)))
        } catch {
            throw TelmeFormatError(path: path, kind: .write, what: "cannot encode the header: \(error)")
        }
        var file = try FilePlan(path: path, specs: specs, tokenizer: tokenizer, dtype: dtype,
                                headerLength: headerJSON.count)
        let output = try TemporaryOutput(destination: url)
        do {
            try file.writeData(specs: specs, tokenizer: tokenizer, values: values, to: output)
            try file.head(headerJSON: headerJSON).withUnsafeBytes { try output.write($0, at: 0) }
            try output.finish(size: file.fileEnd)
        } catch {
            output.abandon()
            throw error
        }
    }

    /// Where everything goes in the file, known before any tensor is written: every size comes
    /// from the architecture, so the table (whose checksums are filled in as the tensors are
    /// written) has its final length already.
    struct FilePlan {
        let path: String
        let dtype: TensorDType
        /// The model tensors, then the two tokenizer blobs.
        var entries: [TelmeTensorInfo]
        let dataOffset: UInt64
        /// The file ends right after the last tensor: no trailing padding.
        let fileEnd: UInt64

        init(path: String, specs: [TensorSpec], tokenizer: TokenizerFiles, dtype: TensorDType, headerLength: Int) throws {
            self.path = path
            self.dtype = dtype
            var entries: [TelmeTensorInfo] = []
            entries.reserveCapacity(specs.count + 2)
            for spec in specs {
                guard let count = checkedProduct(spec.shape),
                      case let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size), !overflow
                else { throw TelmeFormatError(path: path, kind: .badModel, what: "tensor size overflows", location: "tensor \(spec.name)") }
                entries.append(TelmeTensorInfo(name: spec.name, dtype: dtype, shape: spec.shape, offset: 0,
                                               byteLength: UInt64(bytes), checksum: 0))
            }
            for (name, blob) in [(Layout.vocabTensor, tokenizer.vocabJSON), (Layout.mergesTensor, tokenizer.merges)] {
                entries.append(TelmeTensorInfo(name: name, dtype: .u8, shape: [blob.count], offset: 0,
                                               byteLength: UInt64(blob.count), checksum: 0))
            }
            let tableLength = TelmeWriter.encodeTable(entries).count
            guard var cursor = Layout.aligned(UInt64(Layout.preambleSize + headerLength + tableLength)) else {
                throw TelmeFormatError(path: path, kind: .write, what: "header too large")
            }
            dataOffset = cursor
            for i in entries.indices {
                entries[i].offset = cursor
                guard let next = Layout.aligned(cursor &+ entries[i].byteLength), next >= cursor else {
                    throw TelmeFormatError(path: path, kind: .write, what: "file size overflows", location: "tensor \(entries[i].name)")
                }
                cursor = next
            }
            fileEnd = entries.last.map { $0.offset + $0.byteLength } ?? dataOffset
            self.entries = entries
        }

        /// Writes every tensor at its offset (the model's as `dtype`, one at a time, then the
        /// tokenizer blobs) and records its checksum.
        mutating func writeData(specs: [TensorSpec], tokenizer: TokenizerFiles, values: (TensorSpec) throws -> [Float],
                                to output: TemporaryOutput) throws {
            for (index, spec) in specs.enumerated() {
                let floats = try values(spec)
                let expected = entries[index].elementCount
                guard floats.count == expected else {
                    throw TelmeFormatError(path: path, kind: .write, what: "the importer gave \(floats.count) values for "
                        + "shape \(spec.shape), expected \(expected)", location: "tensor \(spec.name)")
                }
                let bytes = TelmeWriter.encode(floats, as: dtype)
                entries[index].checksum = bytes.withUnsafeBytes { XXH64.hash($0) }
                try bytes.withUnsafeBytes { try output.write($0, at: entries[index].offset) }
            }
            for (index, blob) in [(specs.count, tokenizer.vocabJSON), (specs.count + 1, tokenizer.merges)] {
                entries[index].checksum = XXH64.hash(blob)
                try blob.withUnsafeBytes { try output.write($0, at: entries[index].offset) }
            }
        }

        /// The bytes before the data: the preamble, the header JSON, the table (with the
        /// checksums of the written tensors) and zero padding up to `dataOffset`.
        func head(headerJSON: [UInt8]) -> [UInt8] {
            let table = TelmeWriter.encodeTable(entries)
            let preamble = Preamble(headerLength: UInt64(headerJSON.count), tableLength: UInt64(table.count),
                                    dataOffset: dataOffset, dataLength: fileEnd - dataOffset,
                                    headerChecksum: (headerJSON + table).withUnsafeBytes { XXH64.hash($0) })
            var head = preamble.bytes + headerJSON + table
            head += [UInt8](repeating: 0, count: Int(dataOffset) - head.count)
            return head
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
final class TemporaryOutput {
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
