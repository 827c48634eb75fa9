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

    /// Scaled dot-product attention of many heads over a batch.
    ///
    /// `q` is `batch x seqQ x (heads*headDim)` and `k`, `v` are `batch x seqK x (heads*headDim)`
    /// (heads side by side, as the projections produce them). The result has the layout of `q`.
    /// `keyMask[b][j] == false` excludes key j of batch member b.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, batch: Int, seqQ: Int, seqK: Int,
                                 heads: Int, keyMask: [[Bool]]? = nil, scale: Float? = nil) -> Tensor {
        let width = q.cols
        precondition(k.cols == width && v.cols == width,
                     "attention: widths \(q.cols), \(k.cols), \(v.cols) for \(heads) heads")
        precondition(q.count == batch * seqQ * width && k.count == batch * seqK * width && k.count == v.count,
                     "attention: shapes \(q.shape), \(k.shape), \(v.shape) for batch \(batch), \(seqQ) x \(seqK)")
        guard batch > 0, seqQ > 0, seqK > 0, width > 0 else {
            return Tensor(zeros: q.shape)
        }
        var out = q.data.withUnsafeBufferPointer { qp in
            k.data.withUnsafeBufferPointer { kp in
                v.data.withUnsafeBufferPointer { vp in
                    attention(q: StridedRows(qp.baseAddress!, stride: width), k: StridedRows(kp.baseAddress!, stride: width),
                              v: StridedRows(vp.baseAddress!, stride: width), width: width, batch: batch,
                              seqQ: seqQ, seqK: seqK, heads: heads, keyMask: keyMask, scale: scale)
                }
            }
        }
        out.shape = q.shape
        return out
    }

    /// Attention on rows read in place: `q`, `k` and `v` may be column blocks of one fused
    /// projection (`x [Wq; Wk; Wv]^T`, stride `3 width`), so no head or block is copied out.
    /// Row `b * seqQ + i` of `q` is query i of batch member b (and likewise for `k`, `v`). The
    /// result is `[batch * seqQ, width]`. Two `sgemm` per (batch member, head): scores `Q K^T`
    /// with the leading dimensions of the views, then `P V`.
    public static func attention(q: StridedRows, k: StridedRows, v: StridedRows, width: Int, batch: Int,
                                 seqQ: Int, seqK: Int, heads: Int, keyMask: [[Bool]]? = nil,
                                 scale: Float? = nil) -> Tensor {
        Profile.measure("attention") {
            let headDim = width / max(heads, 1)
            precondition(heads > 0 && headDim * heads == width, "attention: width \(width) for \(heads) heads")
            precondition(q.stride >= width && k.stride >= width && v.stride >= width, "attention: row strides")
            precondition(keyMask.map { $0.count == batch && $0.allSatisfy { $0.count == seqK } } ?? true,
                         "attention: key mask does not match batch \(batch) x \(seqK)")
            let s = scale ?? 1 / Float(headDim).squareRoot()
            guard batch > 0, seqQ > 0, seqK > 0, width > 0 else { return Tensor(zeros: [batch * seqQ, width]) }
            let maskedKeys = (0..<batch).map { b in keyMask.map { mask in mask[b].indices.filter { !mask[b][$0] } } ?? [] }
            // Every value is written: each head's `P V` (beta 0) fills its headDim columns.
            return Tensor(shape: [batch * seqQ, width]) { outBase, _ in
                nonisolated(unsafe) let out = outBase
                // The (batch member, head) pairs are independent: split over the threads, with
                // each pair's two products and softmax on one thread.
                Gemm.independently(count: batch * heads, floatsPerItem: seqQ * (seqK + headDim)) { range, gemm in
                    var scores = [Float](repeating: 0, count: seqQ * seqK)
                    scores.withUnsafeMutableBufferPointer { sp in
                        let scoreBase = sp.baseAddress!
                        for item in range {
                            let b = item / heads, h = item % heads
                            let qBase = q.base + b * seqQ * q.stride + h * headDim
                            let kBase = k.base + b * seqK * k.stride + h * headDim
                            let vBase = v.base + b * seqK * v.stride + h * headDim
                            let oBase = out + b * seqQ * width + h * headDim
                            gemm.multiply(m: seqQ, n: seqK, k: headDim, a: qBase, lda: q.stride,
                                          b: kBase, ldb: k.stride, transposeB: true,
                                          c: scoreBase, ldc: seqK, alpha: s)
                            if !maskedKeys[b].isEmpty {
                                for i in 0..<seqQ {
                                    let row = scoreBase + i * seqK
                                    for j in maskedKeys[b] { row[j] = -Float.infinity }
                                }
                            }
                            softmaxRows(scoreBase, rows: seqQ, n: seqK)
                            gemm.multiply(m: seqQ, n: headDim, k: seqK, a: scoreBase, lda: seqK,
                                          b: vBase, ldb: v.stride, c: oBase, ldc: width)
                        }
                    }
                }
            }
        }
    }
}

/// Rows of floats read in place: row i starts at `base + i * stride`. The memory belongs to
/// the caller and must stay alive (and unchanged) while the view is used.
public struct StridedRows {
    public let base: UnsafePointer<Float>
    public let stride: Int

    public init(_ base: UnsafePointer<Float>, stride: Int) {
        self.base = base
        self.stride = stride
    }
}
