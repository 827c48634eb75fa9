import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `bytes` to `url` through a temporary file in the same folder (`.<name>.tmp`, never a
/// link followed), synced and renamed over it, then syncs the folder: `url` holds either the
/// old or the new content, never a part, and the new name survives a power loss. `sync: false`
/// leaves both syncs to the caller (a run that syncs everything at its end).
public func writeAtomically(_ bytes: some Collection<UInt8>, to url: URL, sync: Bool = true) throws(FileError) {
    let temporary = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp")
    _ = unlink(temporary.path)
    let file = try AppendFile(temporary)
    try file.truncate(to: 0)
    try file.append(bytes)
    if sync { try file.sync() }
    guard rename(temporary.path, url.path) == 0 else {
        let error = FileError(path: url.path, kind: .write)
        _ = unlink(temporary.path)
        throw error
    }
    if sync { try syncFolder(url.deletingLastPathComponent()) }
}

/// Syncs a folder (`fsync` on it), so that the names created or renamed in it survive a
/// power loss.
public func syncFolder(_ folder: URL) throws(FileError) {
    let fd = open(folder.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { throw FileError(path: folder.path, kind: .open) }
    defer { close(fd) }
    guard fsync(fd) == 0 else { throw FileError(path: folder.path, kind: .sync) }
}
