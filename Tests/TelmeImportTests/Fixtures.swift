import Foundation
import Testing

/// Files under Tests/TelmeImportTests/Fixtures (hdf5/types.h5, made by Tools/fixtures/exports.py);
/// the exports this target converts are `SharedFixtures`' export/ and hostile/.
enum Fixture {
    static func url(_ relativePath: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> URL {
        let base = try #require(Bundle.module.resourceURL, sourceLocation: sourceLocation)
        let url = base.appendingPathComponent("Fixtures").appendingPathComponent(relativePath)
        try #require(FileManager.default.fileExists(atPath: url.path), "missing fixture \(relativePath)",
                     sourceLocation: sourceLocation)
        return url
    }

    /// A fresh empty directory, removed by the caller with `FileManager.removeItem`.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("telme-import-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }
}

/// The description of a thrown error, or nil when `body` does not throw.
func errorMessage(_ body: () throws -> Void) -> String? {
    do {
        try body()
        return nil
    } catch {
        return "\(error)"
    }
}
