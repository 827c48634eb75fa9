import Foundation

/// The fixtures several test targets read, in Tests/TelmeTestSupport/Fixtures:
/// - `tiny-meld/`, `tiny-iemocap/`: tiny random TelME models (`model.h5`, written by the real
///   exporter) and PyTorch's answers on them (`*_cases.h5`, `forward_cases.h5`), made by
///   `python -m Tools.fixtures.models`;
/// - `export/`, `hostile/`: micro exports of every component set, and exports broken in one way
///   each, made by `python -m Tools.fixtures.exports` and `Tools.fixtures.external_storage`.
public enum SharedFixtures {
    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public var description: String {
            "missing fixture \(path) in Tests/TelmeTestSupport/Fixtures (Tools/README.md says which tool writes it)"
        }
    }

    /// The fixture at `path`, relative to the Fixtures folder (e.g. `tiny-meld/model.h5`).
    public static func url(_ path: String) throws -> URL {
        guard let root = Bundle.module.url(forResource: "Fixtures", withExtension: nil) else { throw Missing(path: "") }
        let url = root.appendingPathComponent(path)
        guard FileManager.default.fileExists(atPath: url.path) else { throw Missing(path: path) }
        return url
    }
}
