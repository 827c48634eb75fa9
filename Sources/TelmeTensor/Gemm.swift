internal import CBLAS

/// Matrix products on whole batches, through OpenBLAS.
public enum Gemm {
    /// `C = alpha * op(A) * op(B) + beta * C`, row-major, where op(X) is X or its transpose.
    /// A is m x k after op, B is k x n after op, C is m x n; `lda`, `ldb`, `ldc` are the row
    /// strides of the stored matrices.
    ///
    /// The corresponding C function is `cblas_sgemm`.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, lda: Int, transposeA: Bool = false,
        b: UnsafePointer<Float>, ldb: Int, transposeB: Bool = false,
        c: UnsafeMutablePointer<Float>, ldc: Int,
        alpha: Float = 1, beta: Float = 0
    ) {
        guard m > 0, n > 0 else { return }
        cblas_sgemm(CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
                    Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// Sets the number of threads OpenBLAS uses for every later product.
    ///
    /// The corresponding C function is `openblas_set_num_threads`.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
    }

    /// The number of threads OpenBLAS uses.
    ///
    /// The corresponding C function is `openblas_get_num_threads`.
    public static var threads: Int { Int(openblas_get_num_threads()) }
}
