import ArgumentParser
import Foundation
import TelmePipeline
import TelmeTensor

/// `--backend`, `--precision` and `--threads`: how the maths runs, the same in every command
/// that runs a model.
struct ComputeOptions: ParsableArguments {
    @Option(help: ArgumentHelp(
        "The library of the matrix products: auto, openblas or onednn.",
        discussion: "auto: oneDNN where the CPU has AVX-512 or OpenBLAS runs kernels below the CPU (a CPU it does not know), else OpenBLAS (telme system says which and why)."))
    var backend: BackendChoice = .auto

    @Option(help: "f32 (exact, the default) or int8 (the encoders' dense layers in int8 on oneDNN; see the README for its error).")
    var precision: Precision = .f32

    @Option(help: "Threads of the matrix products and of the loops between them.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
    }

    /// Sets the process's compute (before any model is built) and says on stderr when the
    /// products would run on kernels below what the CPU can do. Returns what was set.
    @discardableResult
    func apply() throws -> ComputeInfo {
        let platform = Platform.current
        let chosen = backend == .auto && precision == .int8 ? Backend.onednn : platform.resolve(backend)
        try Compute.configure(backend: chosen, precision: precision)
        Compute.setThreads(threads)
        if let warning = platform.warning(for: chosen) {
            FileHandle.standardError.write(Data("telme: warning: \(warning)\n".utf8))
        }
        return ComputeInfo(backend: chosen, precision: precision, kernels: platform.kernels(of: chosen),
                           cpu: platform.cpu, threads: threads)
    }
}

extension BackendChoice: ExpressibleByArgument {}
extension Precision: ExpressibleByArgument {}

/// `telme system`: the CPU, the maths libraries and the kernels each runs here, and the backend
/// `auto` picks.
struct System: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "Show the CPU, the kernels OpenBLAS and oneDNN run on it, and the backend auto picks.")

    @OptionGroup var output: JSONOption

    func run() throws {
        let p = Platform.current
        if output.json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(SystemReport(p)), as: UTF8.self))
            return
        }
        print("cpu       \(p.cpu) (\(p.level)); \(p.flags.joined(separator: " "))")
        for library in [p.openblas, p.onednn] {
            print("\(library.name.padding(toLength: 10, withPad: " ", startingAt: 0))\(library.version), kernels \(library.kernels) (\(library.level))")
        }
        print("auto      \(p.autoBackend.rawValue): \(p.autoReason)")
        for backend in Backend.allCases {
            if let warning = p.warning(for: backend) { print("warning   \(warning)") }
        }
    }

    struct SystemReport: Encodable {
        var platform: Platform
        var warnings: [String: String]

        init(_ platform: Platform) {
            self.platform = platform
            warnings = Dictionary(uniqueKeysWithValues: Backend.allCases.compactMap { b in
                platform.warning(for: b).map { (b.rawValue, $0) }
            })
        }
    }
}
