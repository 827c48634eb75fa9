internal import CBLAS
import Synchronization

/// Plain matrix products (the convolutions', the heads'), through the backend in force
/// (`Compute.backend`): OpenBLAS's `cblas_sgemm` or oneDNN's `dnnl_sgemm`; attention's small
/// products (`independently`) on OpenBLAS, one thread each. Dense layers with packed weights
/// (`PackedDense`) take the same lock.
///
/// Products run one at a time in the process (a lock), each on all of the backend's threads,
/// except inside `independently`, which runs many small products at once, one per thread.
public enum Gemm {
    /// Held for every product, and by `independently` for its whole run: while OpenBLAS is
    /// switched to one thread there, no other product may start (it would run on one thread,
    /// or, started on one of OpenBLAS's busy workers, wait for itself).
    private static let gate = Mutex<Void>(())
    /// The thread count of `setThreads`; until it is called, OpenBLAS's own default. Kept here
    /// because `independently` switches OpenBLAS itself to one thread for a while.
    private static let configured = Atomic<Int>(Int(openblas_get_num_threads()))

    /// `C = alpha * op(A) * op(B) + beta * C`, row-major, where op(X) is X or its transpose.
    /// A is m x k after op, B is k x n after op, C is m x n; `lda`, `ldb`, `ldc` are the row
    /// strides of the stored matrices.
    ///
    /// The corresponding C functions are `cblas_sgemm` and `dnnl_sgemm`.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0, backend: Backend = Compute.backend
    ) {
        guard m > 0, n > 0 else { return }
        gate.withLock { _ in
            sgemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb, transposeB: transposeB,
                  c: c, ldc: ldc, alpha: alpha, beta: beta, backend: backend)
        }
    }

    /// Runs `body` (a oneDNN primitive) while no other product runs.
    static func exclusively(_ body: () -> Void) {
        gate.withLock { _ in body() }
    }

    /// Calls `body` on disjoint ranges of `0..<count` concurrently, as `Parallel.forEach` does,
    /// with OpenBLAS set to one thread: the products of each range (`Part.multiply`) run on the
    /// thread of that range. For many small independent products (attention heads), which
    /// split poorly over threads one by one.
    ///
    /// The results do not depend on the thread count: every product runs on one thread.
    static func independently(count: Int, floatsPerItem: Int, _ body: (Range<Int>, Part) -> Void) {
        gate.withLock { _ in
            let threads = Self.threads
            openblas_set_num_threads(1)
            defer { openblas_set_num_threads(Int32(threads)) }
            Parallel.forEach(count: count, floatsPerItem: floatsPerItem) { range in body(range, Part()) }
        }
    }

    /// Products inside `independently` (which holds the lock for them).
    struct Part {
        fileprivate init() {}

        func multiply(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                      transposeB: Bool = false, c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float = 1) {
            guard m > 0, n > 0 else { return }
            // OpenBLAS whatever the backend: oneDNN 2.6's sgemm builds a kernel per new shape,
            // which costs milliseconds on attention's many small products (8 x 64 x 8: 5.6 ms
            // against 1.4 us); on one thread OpenBLAS uses no pool of its own.
            sgemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: false, b: b, ldb: ldb, transposeB: transposeB,
                  c: c, ldc: ldc, alpha: alpha, beta: 0, backend: .openblas)
        }
    }

    private static func sgemm(m: Int, n: Int, k: Int, a: UnsafePointer<Float>, lda: Int, transposeA: Bool,
                              b: UnsafePointer<Float>, ldb: Int, transposeB: Bool,
                              c: UnsafeMutablePointer<Float>, ldc: Int, alpha: Float, beta: Float,
                              backend: Backend) {
        if backend == .onednn {
            OneDNN.sgemm(m: m, n: n, k: k, a: a, lda: lda, transposeA: transposeA, b: b, ldb: ldb,
                         transposeB: transposeB, c: c, ldc: ldc, alpha: alpha, beta: beta)
            return
        }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS, OpenMP (oneDNN's) and so `Parallel` use for every
    /// later product.
    ///
    /// The corresponding C function is `openblas_set_num_threads`; OpenMP's count is set on
    /// each thread that starts oneDNN work (`OneDNN.Threads.prepareCaller`).
    public static func setThreads(_ count: Int) {
        gate.withLock { _ in
            openblas_set_num_threads(Int32(max(1, count)))
            configured.store(max(1, count), ordering: .relaxed)
        }
    }

    /// The number of threads products use (`setThreads`, else OpenBLAS's default).
    public static var threads: Int { configured.load(ordering: .relaxed) }
}
