import Foundation
import Testing

/// The built `telme` executable, run as a child process: what a scheduler or a user runs, so
/// that signals, exit statuses and the environment are the real ones.
enum TelmeBinary {
    /// `telme` next to the test bundle (`swift build --build-tests` and `swift test` build it).
    static let url: URL = {
        var folder = Bundle.module.bundleURL.deletingLastPathComponent()
        if folder.lastPathComponent == "Contents" { folder = folder.deletingLastPathComponent() }  // macOS .xctest
        return folder.appendingPathComponent("telme")
    }()

    static var available: Bool { FileManager.default.isExecutableFile(atPath: url.path) }

    struct Result {
        /// The exit status, or the signal that ended the process.
        var status: Int32
        var signaled: Bool
        var stderr: String
    }

    /// Runs `telme arguments` to its end, with `environment` added to this process's (minus
    /// any scheduler variables, so that a test run inside a Slurm array is not sharded).
    static func run(_ arguments: [String], environment: [String: String] = [:], executable: URL = url) throws -> Result {
        let (process, errors) = try start(arguments, environment: environment, executable: executable)
        process.waitUntilExit()
        return finish(process, errors)
    }

    /// Starts `telme arguments` (or another `executable`, e.g. a script that runs telme);
    /// stderr goes to a temporary file.
    static func start(_ arguments: [String], environment: [String: String] = [:],
                      executable: URL = url) throws -> (Process, URL) {
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment.filter {
            !$0.key.hasPrefix("SLURM_") && $0.key != "JOB_COMPLETION_INDEX" && !$0.key.hasPrefix("TELME_")
        }
        env.merge(environment) { $1 }
        process.environment = env
        let errors = FileManager.default.temporaryDirectory.appendingPathComponent("telme-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: errors.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: errors)
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        return (process, errors)
    }

    static func finish(_ process: Process, _ errors: URL) -> Result {
        let text = (try? String(contentsOf: errors, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(at: errors)
        return Result(status: process.terminationStatus, signaled: process.terminationReason == .uncaughtSignal,
                      stderr: text)
    }

    /// Every file under `folder` (relative path → bytes), `run.json` aside (it holds times).
    static func outputs(_ folder: URL) throws -> [String: Data] {
        var files: [String: Data] = [:]
        let enumerator = FileManager.default.enumerator(at: folder, includingPropertiesForKeys: nil)
        while let url = enumerator?.nextObject() as? URL {
            var isFolder: ObjCBool = false
            guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder), !isFolder.boolValue else { continue }
            let name = String(url.path.dropFirst(folder.path.count + 1))
            if name != "run.json" { files[name] = try Data(contentsOf: url) }
        }
        return files
    }

    /// `run.json` of an output folder, decoded loosely.
    static func runInfo(_ folder: URL) throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(contentsOf: folder.appendingPathComponent("run.json"))) as! [String: Any]
    }

    /// Expects two output folders to hold the same files, byte for byte.
    static func expectSameOutputs(_ a: URL, _ b: URL, _ comment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let first = try outputs(a), second = try outputs(b)
        #expect(first.keys.sorted() == second.keys.sorted(), "\(comment): files", sourceLocation: sourceLocation)
        for (name, data) in first where second[name] != data {
            Issue.record("\(comment): \(name) differs", sourceLocation: sourceLocation)
        }
    }
}
