import Foundation
import TelmeFiles
import TelmeFormat
import TelmePipeline

/// Opens the converted model at `path`; an HDF5 export (named `.h5` / `.hdf5`, or starting with
/// HDF5's signature) is refused with the command that converts it, instead of the `.telme`
/// reader's complaint about its magic bytes.
func openModel(_ path: String, verifyChecksums: Bool = true) throws -> TelmeFile {
    let url = URL(fileURLWithPath: path)
    if isHDF5(url) {
        let target = url.deletingPathExtension().lastPathComponent + ".telme"
        throw PipelineError(.model, path: path, "an HDF5 export, not a converted model: convert it first with "
                                                + "`telme convert \(path) -o \(target)`, then pass \(target)")
    }
    return try TelmeFile(contentsOf: url, verifyChecksums: verifyChecksums)
}

/// Whether `url` is an HDF5 file: by its extension, or by the signature HDF5 writes at offset 0.
func isHDF5(_ url: URL) -> Bool {
    if ["h5", "hdf5"].contains(url.pathExtension.lowercased()) { return true }
    // Only a regular file is opened here: a FIFO would block (the model reader then refuses it).
    guard RegularFile.problem(url.path) == nil, let handle = try? FileHandle(forReadingFrom: url) else { return false }
    defer { try? handle.close() }
    let signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0D, 0x0A, 0x1A, 0x0A]
    return (try? handle.read(upToCount: 8)).map { [UInt8]($0) == signature } ?? false
}

/// The subcommand closest to a mistyped one (by edit distance, at most a third of its length
/// and at least 2), or nil.
func suggestion(for word: String, among names: [String]) -> String? {
    let scored = names.map { ($0, editDistance(Array(word.lowercased()), Array($0))) }
    guard let (best, distance) = scored.min(by: { $0.1 < $1.1 }),
          distance <= max(2, best.count / 3) else { return nil }
    return best
}

/// Levenshtein distance.
func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    var previous = Array(0...b.count)
    for (i, x) in a.enumerated() {
        var current = [i + 1]
        for (j, y) in b.enumerated() {
            current.append(min(previous[j + 1] + 1, current[j] + 1, previous[j] + (x == y ? 0 : 1)))
        }
        previous = current
    }
    return previous[b.count]
}
