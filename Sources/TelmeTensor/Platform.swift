internal import CBLAS
import Foundation

/// What this machine's CPU can do, what each maths library makes of it, and so which backend
/// `auto` picks: nothing runs a generic kernel silently where the CPU can do better.
public struct Platform: Codable, Sendable, Equatable {
    /// Instruction-set levels, in order.
    public enum Level: Int, Codable, Sendable, Comparable, CustomStringConvertible {
        case sse = 0, avx, avx2, avx512

        public static func < (a: Level, b: Level) -> Bool { a.rawValue < b.rawValue }

        public var description: String {
            switch self {
            case .sse: "SSE"
            case .avx: "AVX"
            case .avx2: "AVX2"
            case .avx512: "AVX-512"
            }
        }
    }

    public struct Library: Codable, Sendable, Equatable {
        public var name: String
        public var version: String
        /// The kernels it runs here: OpenBLAS's core (`Cooperlake`, `Haswell`, `Prescott`...),
        /// oneDNN's instruction set (`avx512_core_vnni`...).
        public var kernels: String
        /// The instruction-set level of those kernels.
        public var level: Level
    }

    /// `model name` of /proc/cpuinfo.
    public var cpu: String
    /// The CPU flags that matter here (of the kernel's cpuid report, /proc/cpuinfo).
    public var flags: [String]
    /// The best level the CPU supports.
    public var level: Level
    public var openblas: Library
    public var onednn: Library
    /// The backend `auto` picks, and why.
    public var autoBackend: Backend
    public var autoReason: String

    /// The flags reported, in this order, when the CPU has them.
    static let flagsOfInterest = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni",
                                  "avx512_bf16", "avx512_fp16", "avx_vnni", "amx_tile", "amx_bf16", "amx_int8"]

    /// This machine (read once).
    public static let current: Platform = {
        let (cpu, flags) = readCPUInfo()
        return Platform(cpu: cpu, flags: flags, openblasCore: String(cString: openblas_get_corename()),
                        openblasConfig: String(cString: openblas_get_config()), onednnVersion: OneDNN.version,
                        onednnISA: OneDNN.isa)
    }()

    /// The platform from its facts (tests give their own).
    public init(cpu: String, flags: Set<String>, openblasCore: String, openblasConfig: String, onednnVersion: String,
                onednnISA: String) {
        self.cpu = cpu
        self.flags = Self.flagsOfInterest.filter(flags.contains)
        level = flags.contains("avx512f") ? .avx512 : flags.contains("avx2") && flags.contains("fma") ? .avx2
            : flags.contains("avx") ? .avx : .sse
        // "OpenBLAS 0.3.21 NO_AFFINITY Cooperlake MAX_THREADS=64": the version is the second word.
        let words = openblasConfig.split(separator: " ")
        openblas = Library(name: "OpenBLAS", version: words.count > 1 ? String(words[1]) : openblasConfig,
                           kernels: openblasCore, level: Self.level(ofOpenBLASCore: openblasCore))
        onednn = Library(name: "oneDNN", version: onednnVersion, kernels: onednnISA,
                         level: onednnISA.hasPrefix("avx512") ? .avx512 : onednnISA.hasPrefix("avx2") ? .avx2
                            : onednnISA == "avx" ? .avx : .sse)
        // Measured (README, Benchmark), on a quiet AVX-512 EPYC: oneDNN's packed matmul ran the
        // encoders 1.16 to 1.55x faster than OpenBLAS's Cooperlake kernels (on a loaded machine
        // it was no faster: its OpenMP regions wait for descheduled threads).
        if onednn.level == .avx512 {
            autoBackend = .onednn
            autoReason = "the CPU has AVX-512, where oneDNN's packed matmul was measured faster than OpenBLAS"
        } else if openblas.level < level {
            autoBackend = .onednn
            autoReason = "OpenBLAS runs its \(openblas.kernels) (\(openblas.level)) kernels on this \(level) CPU"
        } else {
            autoBackend = .openblas
            autoReason = "OpenBLAS's \(openblas.kernels) kernels use the CPU's \(level); oneDNN was not measured faster there"
        }
    }

    /// The instruction-set level of an OpenBLAS core name (`openblas_get_corename`).
    static func level(ofOpenBLASCore core: String) -> Level {
        switch core.lowercased() {
        case "skylakex", "cooperlake", "sapphirerapids": .avx512
        case "haswell", "zen", "excavator": .avx2
        case "sandybridge", "bulldozer", "piledriver", "steamroller": .avx
        default: .sse
        }
    }

    /// The `OPENBLAS_CORETYPE` that makes OpenBLAS use this CPU's level.
    var openblasCoreForCPU: String {
        switch level {
        case .avx512: flags.contains("avx512_bf16") ? "Cooperlake" : "SkylakeX"
        case .avx2: "Haswell"
        case .avx: "Sandybridge"
        case .sse: "Nehalem"
        }
    }

    /// The warning owed when products run on `backend`: set when that library's kernels are
    /// below what the CPU can do (a misdetected CPU), naming the fix.
    public func warning(for backend: Backend) -> String? {
        switch backend {
        case .openblas where openblas.level < level:
            return "OpenBLAS \(openblas.version) runs its \(openblas.kernels) (\(openblas.level)) kernels on this "
                + "\(level) CPU (\(cpu)), so matrix products will be several times slower than they can be: use "
                + "--backend onednn (or auto), or set OPENBLAS_CORETYPE=\(openblasCoreForCPU)"
        case .onednn where onednn.level < level:
            return "oneDNN \(onednn.version) runs \(onednn.kernels) kernels on this \(level) CPU (\(cpu)), below what "
                + "it supports: check ONEDNN_MAX_CPU_ISA / DNNL_MAX_CPU_ISA, or use --backend openblas"
        default:
            return nil
        }
    }

    /// `auto` resolved, other choices as they are.
    public func resolve(_ choice: BackendChoice) -> Backend {
        switch choice {
        case .auto: autoBackend
        case .openblas: .openblas
        case .onednn: .onednn
        }
    }

    /// A line naming the kernels of `backend`, for logs and reports.
    public func kernels(of backend: Backend) -> String {
        let library = backend == .openblas ? openblas : onednn
        return "\(library.name) \(library.version) (\(library.kernels))"
    }

    private static func readCPUInfo() -> (String, Set<String>) {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return ("unknown", []) }
        var model = "unknown"
        var flags = Set<String>()
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces)
            if key == "model name", model == "unknown" { model = parts[1].trimmingCharacters(in: .whitespaces) }
            if key == "flags", flags.isEmpty { flags = Set(parts[1].split(separator: " ").map(String.init)) }
        }
        return (model, flags)
    }
}

/// The `--backend` option: a backend, or `auto` (`Platform.autoBackend`).
public enum BackendChoice: String, CaseIterable, Sendable, Codable {
    case auto, openblas, onednn
}
