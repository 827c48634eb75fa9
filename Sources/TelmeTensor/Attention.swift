/// Scaled dot-product attention: every model's self-attention, and ASF's.
extension Ops {
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

    /// Self-attention on a fused projection: `projected` is `[batch * length, 3 width]`, each
    /// row `q | k | v` (heads side by side in each), as a `Linear` stacking the query, key and
    /// value layers makes it. With `queryPosition`, only that position of each sequence asks
    /// (the result is then `[batch, width]`); otherwise every position (`[batch * length, width]`).
    public static func selfAttention(_ projected: Tensor, batch: Int, length: Int, heads: Int,
                                     queryPosition: Int? = nil, keyMask: [[Bool]]? = nil,
                                     scale: Float? = nil) -> Tensor {
        let width = projected.cols / 3
        precondition(projected.cols == 3 * width && projected.rows == batch * length,
                     "selfAttention: projection \(projected.shape) for batch \(batch) x \(length)")
        let stride = 3 * width
        return projected.data.withUnsafeBufferPointer { pp in
            let base = pp.baseAddress!
            // One query per sequence: rows `length` apart, starting at the position.
            let queries = queryPosition.map { StridedRows(base + $0 * stride, stride: length * stride) }
                ?? StridedRows(base, stride: stride)
            return attention(q: queries, k: StridedRows(base + width, stride: stride),
                             v: StridedRows(base + 2 * width, stride: stride), width: width, batch: batch,
                             seqQ: queryPosition == nil ? length : 1, seqK: length, heads: heads,
                             keyMask: keyMask, scale: scale)
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
