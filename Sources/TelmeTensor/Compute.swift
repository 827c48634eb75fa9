import Synchronization

/// The library that computes the matrix products.
public enum Backend: String, CaseIterable, Sendable, Codable {
    /// OpenBLAS's `cblas_sgemm` on the weights as stored: the project's reference.
    case openblas
    /// oneDNN's matmul on weights packed once, in the layout oneDNN picks for the CPU.
    case onednn
}

/// The arithmetic of the encoders' dense layers (and data2vec-audio's feature convolutions).
public enum Precision: String, CaseIterable, Sendable, Codable {
    /// float32 throughout: the exact default.
    case f32
    /// The encoders' dense layers in int8 (oneDNN, VNNI where the CPU has it): weights quantised
    /// per output channel when the model is built, activations per row at each product. Every
    /// other operation stays float32 (a layer built `quantisable`, `Linear` or `Conv1d.Kernel`,
    /// is one that runs in int8).
    case int8
}

/// How the maths runs in this process: the backend and precision that models built from now on
/// use, and the thread count of every product and parallel loop.
///
/// Set once at start by the command line (`--backend`, `--precision`, `--threads`); the
/// library's default is OpenBLAS in float32, the reference every other path is checked against.
/// A model keeps the backend and precision it was built with (its layers are packed for them).
public enum Compute {
    private struct Settings {
        var backend: Backend = .openblas
        var precision: Precision = .f32
    }

    private static let settings = Mutex(Settings())
    /// A setting for the work of one task only (`with`), over the process's.
    @TaskLocal private static var scoped: Settings?

    /// The backend of models built from now on.
    public static var backend: Backend { scoped?.backend ?? settings.withLock { $0.backend } }
    /// The precision of models built from now on.
    public static var precision: Precision { scoped?.precision ?? settings.withLock { $0.precision } }

    /// Runs `body` (building models, running them) with this backend and precision, whatever
    /// the process's: for tests and benchmarks that compare backends side by side.
    public static func with<T>(backend: Backend, precision: Precision = .f32, _ body: () throws -> T) throws -> T {
        if precision == .int8 && backend != .onednn { throw ComputeError.int8NeedsOneDNN }
        return try $scoped.withValue(Settings(backend: backend, precision: precision), operation: body)
    }

    /// Sets the backend and precision of models built from now on. int8 runs on oneDNN only.
    public static func configure(backend: Backend, precision: Precision = .f32) throws {
        if precision == .int8 && backend != .onednn {
            throw ComputeError.int8NeedsOneDNN
        }
        settings.withLock { $0 = Settings(backend: backend, precision: precision) }
    }

    /// The threads of every product and parallel loop from now on (OpenBLAS's and OpenMP's).
    public static func setThreads(_ count: Int) {
        Gemm.setThreads(count)
    }
}

/// A compute setting that cannot run.
public enum ComputeError: Error, CustomStringConvertible, Equatable {
    case int8NeedsOneDNN

    public var description: String {
        switch self {
        case .int8NeedsOneDNN: "--precision int8 runs on oneDNN only: use --backend onednn (or auto)"
        }
    }
}
