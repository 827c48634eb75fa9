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
final class AppendFile {
    let url: URL
    private let fd: Int32
    /// Bytes in the file.
    private(set) var size: Int

    /// Opens (creating it when absent) `url` for reading and appending.
    init(_ url: URL) throws {
        self.url = url
        fd = open(url.path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0o644)
        guard fd >= 0 else { throw PipelineError("\(url.path): cannot open: \(errnoText())") }
        var info = stat()
        guard fstat(fd, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else {
            close(fd)
            throw PipelineError("\(url.path): not a regular file")
        }
        size = Int(info.st_size)
    }

    deinit { close(fd) }

    /// Takes an exclusive advisory lock (`flock`); false when another process holds it. The
    /// lock goes with the process, however it ends.
    func tryLock() -> Bool {
        flock(fd, LOCK_EX | LOCK_NB) == 0 || (errno != EWOULDBLOCK && errno != EAGAIN)
    }

    /// Cuts the file to `length` bytes (`ftruncate`).
    func truncate(to length: Int) throws {
        guard ftruncate(fd, off_t(length)) == 0 else {
            throw PipelineError("\(url.path): cannot truncate: \(errnoText())")
        }
        size = length
    }

    /// Appends `bytes` (`pwrite` at the end, repeated until all are written).
    func append(_ bytes: some Collection<UInt8>) throws {
        let array = Array(bytes)
        try write(array, at: size)
        size += array.count
    }

    /// Writes all of `bytes` at `offset` (`pwrite`, repeated until all are written).
    private func write(_ bytes: [UInt8], at offset: Int) throws {
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { buffer in
                pwrite(fd, buffer.baseAddress! + written, bytes.count - written, off_t(offset + written))
            }
            if n < 0 {
                if errno == EINTR { continue }
                throw PipelineError("\(url.path): cannot write: \(errnoText())")
            }
            written += n
        }
    }

    /// Overwrites bytes inside the file at `offset` (`pwrite`); `offset + bytes.count` must not
    /// pass the end (a fixed-size header rewritten in place).
    func overwrite(_ bytes: [UInt8], at offset: Int) throws {
        precondition(offset >= 0 && offset + bytes.count <= size, "overwrite inside the file")
        try write(bytes, at: offset)
    }

    /// Flushes the file to the disk (`fsync`).
    func sync() throws {
        guard fsync(fd) == 0 else { throw PipelineError("\(url.path): cannot sync: \(errnoText())") }
    }

    /// The bytes `range` of the file (`pread`).
    func read(_ range: Range<Int>) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: range.count)
        var done = 0
        while done < range.count {
            let n = bytes.withUnsafeMutableBytes { buffer in
                pread(fd, buffer.baseAddress! + done, range.count - done, off_t(range.lowerBound + done))
            }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw PipelineError("\(url.path): cannot read bytes \(range): \(errnoText())") }
            done += n
        }
        return bytes
    }

    /// The whole file.
    func readAll() throws -> [UInt8] { try read(0..<size) }
}

/// Writes `bytes` to `url` through a temporary file in the same folder, synced (unless not
/// `sync`) and renamed over it, so that `url` holds either the old or the new content, never a
/// part.
func writeAtomically(_ bytes: some Collection<UInt8>, to url: URL, sync: Bool = true) throws {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
    _ = unlink(temporary.path)
    let file = try AppendFile(temporary)
    try file.truncate(to: 0)
    try file.append(bytes)
    if sync { try file.sync() }
    guard rename(temporary.path, url.path) == 0 else {
        throw PipelineError("\(url.path): cannot write: \(errnoText())")
    }
    if sync { try syncFolder(url.deletingLastPathComponent()) }
}

/// Syncs a folder (`fsync` on it), so that the names created or renamed in it survive a
/// power loss.
func syncFolder(_ folder: URL) throws {
    let fd = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw PipelineError("\(folder.path): cannot open: \(errnoText())") }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw PipelineError("\(folder.path): cannot sync: \(errnoText())") }
}

/// `strerror(errno)`.
func errnoText() -> String { String(cString: strerror(errno)) }
