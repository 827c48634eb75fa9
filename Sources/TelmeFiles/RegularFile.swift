import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Untrusted paths are opened so that they cannot block, and refused unless they are regular
/// files: a FIFO would block `open` and `read` forever, a device (`/dev/zero`) never ends, a
/// directory is not a file. Every reader of a user's file goes through here (or `check` just
/// before a library opens the path itself: FFmpeg, libhdf5).
public enum RegularFile {
    /// Why `path` cannot be read as a regular file, e.g. "is a FIFO (named pipe), not a regular
    /// file", or nil when it is one. Symbolic links are followed; nothing is opened.
    public static func problem(_ path: String) -> String? {
        var info = stat()
        guard stat(path, &info) == 0 else { return String(cString: strerror(errno)) }
        return kindProblem(info.st_mode)
    }

    /// Throws `FileRefusal` unless `path` is a regular file (see `problem`).
    public static func check(_ path: String) throws(FileRefusal) {
        if let problem = problem(path) { throw FileRefusal(path: path, reason: problem) }
    }

    /// The whole contents of the regular file at `path`, read through a descriptor opened with
    /// `O_NONBLOCK` (so a FIFO cannot block the open) and checked with `fstat` before any read.
    public static func read(_ path: String) throws(FileRefusal) -> Data {
        let descriptor = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        guard descriptor >= 0 else { throw FileRefusal(path: path, reason: String(cString: strerror(errno))) }
        defer { close(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw FileRefusal(path: path, reason: String(cString: strerror(errno))) }
        if let problem = kindProblem(info.st_mode) { throw FileRefusal(path: path, reason: problem) }
        var data = Data(capacity: max(0, Int(info.st_size)))
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { Glibc.read(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { break }
            if count < 0 {
                if errno == EINTR { continue }
                throw FileRefusal(path: path, reason: String(cString: strerror(errno)))
            }
            data.append(contentsOf: chunk[0..<count])
        }
        return data
    }

    /// What is wrong with a file of mode `mode`, or nil for a regular file.
    public static func kindProblem(_ mode: mode_t) -> String? {
        let kind: String
        switch mode & S_IFMT {
        case S_IFREG: return nil
        case S_IFIFO: kind = "a FIFO (named pipe)"
        case S_IFCHR: kind = "a character device"
        case S_IFBLK: kind = "a block device"
        case S_IFDIR: kind = "a directory"
        case S_IFSOCK: kind = "a socket"
        default: kind = "not a plain file"
        }
        return "is \(kind), not a regular file"
    }
}

/// A path that `RegularFile` refused: `path: reason`.
public struct FileRefusal: Error, CustomStringConvertible, Sendable {
    public var path: String
    public var reason: String

    public init(path: String, reason: String) {
        self.path = path
        self.reason = reason
    }

    public var description: String { "\(path): \(reason)" }
}
