import Foundation

/// The building blocks of the encoders. Matrix products go to `Gemm`; the loops here do only
/// the elementwise work around them.
public enum Ops {
    /// `x W^T + b` over the rows of `x`, with W stored PyTorch-style as `out x in`.
    ///
    /// One `sgemm` for all rows of `x` (every leading dimension is a row).
    public static func linear(_ x: Tensor, weight: WeightView, bias: WeightView?) -> Tensor {
        Profile.measure("linear") {
            let inDim = weight.shape[1]
            let outDim = weight.shape[0]
            precondition(x.cols == inDim, "linear: input width \(x.cols), weight \(weight.shape)")
            let rows = x.rows
            // Every value is written: the bias rows then the product (beta 1), or the product alone
            // (beta 0: OpenBLAS zeroes C itself before accumulating).
            return Tensor(shape: Array(x.shape.dropLast()) + [outDim]) { base, _ in
                if let bias {
                    for r in 0..<rows {
                        (base + r * outDim).update(from: bias.base, count: outDim)
                    }
                }
                x.data.withUnsafeBufferPointer { xp in
                    Gemm.multiply(m: rows, n: outDim, k: inDim, a: xp.baseAddress!, lda: inDim,
                                  b: weight.base, ldb: inDim, transposeB: true,
                                  c: base, ldc: outDim, beta: bias == nil ? 0 : 1)
                }
            }
        }
    }

    /// LayerNorm over the last dimension, in place: `(x - mean) / sqrt(var + eps) * w + b`,
    /// with the biased variance, as PyTorch computes it. No affine part when `weight` is nil.
    ///
    /// Mean and variance are accumulated in double precision, two passes, so the statistics
    /// are as exact as float32 inputs allow.
    public static func layerNorm(_ x: inout Tensor, weight: WeightView?, bias: WeightView?, eps: Float) {
        Profile.measure("layerNorm") {
            let n = x.cols
            let rows = x.rows
            guard n > 0 else { return }
            x.data.withUnsafeMutableBufferPointer { p in
                nonisolated(unsafe) let base = p.baseAddress!
                Parallel.forEach(count: rows, floatsPerItem: n) { range in
                    for r in range {
                        normalizeRow(base + r * n, n: n, weight: weight, bias: bias, eps: eps)
                    }
                }
            }
        }
    }

    /// `x = LayerNorm(x + residual)`, in place: the post-LN step of a transformer block.
    public static func addLayerNorm(_ x: inout Tensor, residual: Tensor, weight: WeightView?, bias: WeightView?,
                                    eps: Float) {
        add(&x, residual)
        layerNorm(&x, weight: weight, bias: bias, eps: eps)
    }

    private static func normalizeRow(_ row: UnsafeMutablePointer<Float>, n: Int, weight: WeightView?,
                                     bias: WeightView?, eps: Float) {
        let (mean, squares) = Kernels.moments(row, n: n)
        let variance = Float(squares)
        let inv = 1 / (variance + eps).squareRoot()
        let m = Float(mean)
        switch (weight, bias) {
        case let (w?, b?):
            for i in 0..<n { row[i] = (row[i] - m) * inv * w.base[i] + b.base[i] }
        case let (w?, nil):
            for i in 0..<n { row[i] = (row[i] - m) * inv * w.base[i] }
        case let (nil, b?):
            for i in 0..<n { row[i] = (row[i] - m) * inv + b.base[i] }
        case (nil, nil):
            for i in 0..<n { row[i] = (row[i] - m) * inv }
        }
    }

    /// Exact GELU, `x/2 * (1 + erf(x/sqrt 2))`, in place (see `Kernels.gelu` for the accuracy).
    public static func gelu(_ x: inout Tensor) {
        Profile.measure("gelu") {
            x.data.withUnsafeMutableBufferPointer { p in
                nonisolated(unsafe) let base = p.baseAddress!
                let blocks = (p.count + 4095) / 4096
                let count = p.count
                Parallel.forEach(count: blocks, floatsPerItem: 4096) { range in
                    let start = range.lowerBound * 4096, end = min(range.upperBound * 4096, count)
                    Kernels.gelu(base + start, count: end - start)
                }
            }
        }
    }

    /// `a += b`, elementwise.
    public static func add(_ a: inout Tensor, _ b: Tensor) {
        Profile.measure("add") {
            precondition(a.count == b.count, "add: \(a.shape) and \(b.shape)")
            a.data.withUnsafeMutableBufferPointer { p in
                b.data.withUnsafeBufferPointer { q in
                    for i in p.indices { p[i] += q[i] }
                }
            }
        }
    }

    /// The rows of a table (an embedding matrix `rows x width`) at `indices`, as a tensor of
    /// shape `shape + [width]`. Every index must be in range (callers validate their inputs).
    public static func gatherRows(_ table: WeightView, indices: [Int], shape: [Int]) -> Tensor {
        let width = table.shape.last ?? 0
        let tableRows = width == 0 ? 0 : table.count / width
        precondition(shape.reduce(1, *) == indices.count, "gatherRows: shape \(shape) for \(indices.count) indices")
        var out = Tensor(zeros: shape + [width])
        guard width > 0 else { return out }
        out.data.withUnsafeMutableBufferPointer { o in
            for (r, index) in indices.enumerated() {
                precondition(index >= 0 && index < tableRows, "gatherRows: row \(index) of \(tableRows)")
                (o.baseAddress! + r * width).update(from: table.base + index * width, count: width)
            }
        }
        return out
    }

    /// Adds rows of a table to the rows of `x`: `x[r] += table[indices[r]]`.
    public static func addRows(_ x: inout Tensor, table: WeightView, indices: [Int]) {
        let width = x.cols
        let tableRows = width == 0 ? 0 : table.count / width
        precondition(table.shape.last == width && indices.count == x.rows,
                     "addRows: \(x.shape) and table \(table.shape) with \(indices.count) indices")
        x.data.withUnsafeMutableBufferPointer { o in
            for (r, index) in indices.enumerated() {
                precondition(index >= 0 && index < tableRows, "addRows: row \(index) of \(tableRows)")
                let dst = o.baseAddress! + r * width
                let src = table.base + index * width
                for i in 0..<width { dst[i] += src[i] }
            }
        }
    }

    /// Rows `rows` of the 2-D view of `x`, stacked: shape `[rows.count, x.cols]`.
    public static func selectRows(_ x: Tensor, _ rows: [Int]) -> Tensor {
        let width = x.cols
        var out = Tensor(zeros: [rows.count, width])
        guard width > 0 else { return out }
        x.data.withUnsafeBufferPointer { xp in
            out.data.withUnsafeMutableBufferPointer { o in
                for (i, r) in rows.enumerated() {
                    precondition(r >= 0 && r < x.rows, "selectRows: row \(r) of \(x.rows)")
                    (o.baseAddress! + i * width).update(from: xp.baseAddress! + r * width, count: width)
                }
            }
        }
        return out
    }

    /// Softmax of each row of a `rows x n` block, in place.
    ///
    /// Keys excluded with `-infinity` get probability 0. A row whose keys are ALL excluded
    /// becomes uniform over its `n` keys: that is what PyTorch gives with the finite mask
    /// HF models add (`finfo.min`), under which every masked score is the same number.
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
        nonisolated(unsafe) let base = p
        Parallel.forEach(count: rows, floatsPerItem: n) { range in
            for r in range { Kernels.softmax(base + r * n, n: n) }
        }
    }
}
