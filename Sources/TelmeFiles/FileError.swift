import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file telme writes (or reads back) that a system call failed on, in one line:
/// `<path>: cannot <step>: <the system's reason>`, e.g. `out/units.jsonl: cannot sync: No space left on device`.
public struct FileError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The step that failed.
    public enum Kind: Equatable, Sendable {
        case open
        /// The path is a link, a folder, a FIFO or a device, not a regular file.
        case notRegular
        case truncate
        /// Writing the bytes, or renaming a finished temporary file over the path.
        case write
        case sync
        /// Reading the bytes `range` back.
        case read(Range<Int>)
    }

    public var path: String
    public var kind: Kind
    /// The system's reason (`strerror(errno)`); empty for `notRegular`.
    public var reason: String

    /// `reason` defaults to `strerror(errno)` of the call that just failed.
    public init(path: String, kind: Kind, reason: String? = nil) {
        self.path = path
        self.kind = kind
        self.reason = reason ?? (kind == .notRegular ? "" : String(cString: strerror(errno)))
    }

    public var description: String {
        switch kind {
        case .open: "\(path): cannot open: \(reason)"
        case .notRegular: "\(path): not a regular file"
        case .truncate: "\(path): cannot truncate: \(reason)"
        case .write: "\(path): cannot write: \(reason)"
        case .sync: "\(path): cannot sync: \(reason)"
        case .read(let range): "\(path): cannot read bytes \(range): \(reason)"
        }
    }
}
