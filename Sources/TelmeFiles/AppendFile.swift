import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file that a run only ever extends at its end, written through POSIX calls so that every
/// step is explicit: `write`, `fsync`, `ftruncate` (a resumed run cuts off what was written
/// after the last committed unit). Opened with `O_NOFOLLOW`: a symbolic link planted in the
/// output folder is refused, never followed.
public final class AppendFile {
    public let url: URL
    private let fd: Int32
    /// Bytes in the file.
    public private(set) var size: Int

    /// Opens (creating it when absent) `url` for reading and appending.
    public init(_ url: URL) throws(FileError) {
        self.url = url
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw FileError(path: url.path, kind: .open) }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw FileError(path: url.path, kind: .notRegular)
        }
        size = Int(info.st_size)
    }

    deinit { close(fd) }

    /// Takes an exclusive advisory lock (`flock`); false when another process holds it. The
    /// lock goes with the process, however it ends.
    public func tryLock() -> Bool {
        flock(fd, LOCK_EX | LOCK_NB) == 0 || (errno != EWOULDBLOCK && errno != EAGAIN)
    }

    /// Cuts the file to `length` bytes (`ftruncate`).
    public func truncate(to length: Int) throws(FileError) {
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw FileError(path: url.path, kind: .truncate)
        }
        size = length
    }

    /// Appends `bytes` (`pwrite` at the end, repeated until all are written).
    public func append(_ bytes: some Collection<UInt8>) throws(FileError) {
        let array = Array(bytes)
        try write(array, at: size)
        size += array.count
    }

    /// Writes all of `bytes` at `offset` (`pwrite`, repeated until all are written).
    private func write(_ bytes: [UInt8], at offset: Int) throws(FileError) {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                pwrite(fd, buffer.baseAddress! + written, bytes.count - written, off_t(offset + written))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw FileError(path: url.path, kind: .write)
            }
            written += n
        }
    }

    /// Overwrites bytes inside the file at `offset` (`pwrite`); `offset + bytes.count` must not
    /// pass the end (a fixed-size header rewritten in place).
    public func overwrite(_ bytes: [UInt8], at offset: Int) throws(FileError) {
        precondition(offset >= 0 && offset + bytes.count <= size, "overwrite inside the file")
        try write(bytes, at: offset)
    }

    /// Flushes the file to the disk (`fsync`).
    public func sync() throws(FileError) {
        guard fsync(fd) == 0 else { throw FileError(path: url.path, kind: .sync) }
    }

    /// The bytes `range` of the file (`pread`).
    public func read(_ range: Range<Int>) throws(FileError) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, range.count - done, off_t(range.lowerBound + done))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw FileError(path: url.path, kind: .read(range)) }
            done += n
        }
        return bytes
    }

    /// The whole file.
    public func readAll() throws(FileError) -> [UInt8] { try read(0..<size) }
}
