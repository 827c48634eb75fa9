import Foundation

/// Files the tests read from outside their own `Fixtures/`: the repository's committed files
/// (`Samples/`, `Schemas/`) and the optional `../shared` beside the
/// checkout (the TelME CSVs, the RoBERTa vocabulary). Found from this file's path, here and
/// nowhere else.
public enum TestPaths {
    /// The checkout's root folder.
    public static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `<repository>/../shared`.
    public static let shared = repository.appendingPathComponent("../shared").standardizedFileURL
}
