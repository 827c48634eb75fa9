import Foundation

/// The building blocks of the encoders. Matrix products go to `Gemm`; the loops here do only
/// the elementwise work around them.
public enum Ops {
    /// `x W^T + b` over the rows of `x`, with W stored PyTorch-style as `out x in`.
    public static func linear(_ x: Tensor, weight: WeightView, bias: WeightView?) -> Tensor {
        let inDim = weight.shape[1]
        let outDim = weight.shape[0]
        precondition(x.cols == inDim, "linear: input width \(x.cols), weight \(weight.shape)")
        let rows = x.rows
        var out = Tensor(zeros: Array(x.shape.dropLast()) + [outDim])
        if let bias {
            out.data.withUnsafeMutableBufferPointer { o in
                for r in 0..<rows {
                    (o.baseAddress! + r * outDim).update(from: bias.base, count: outDim)
                }
            }
        }
        x.data.withUnsafeBufferPointer { xp in
            out.data.withUnsafeMutableBufferPointer { o in
                Gemm.multiply(m: rows, n: outDim, k: inDim, a: xp.baseAddress!, lda: inDim,
                              b: weight.base, ldb: inDim, transposeB: true,
                              c: o.baseAddress!, ldc: outDim, beta: bias == nil ? 0 : 1)
            }
        }
        return out
    }

    /// LayerNorm over the last dimension, in place: `(x - mean) / sqrt(var + eps) * w + b`,
    /// with the biased variance, as PyTorch computes it. No affine part when `weight` is nil.
    public static func layerNorm(_ x: inout Tensor, weight: WeightView?, bias: WeightView?, eps: Float) {
        let n = x.cols
        let rows = x.rows
        x.data.withUnsafeMutableBufferPointer { p in
            for r in 0..<rows {
                let row = p.baseAddress! + r * n
                var mean: Float = 0
                for i in 0..<n { mean += row[i] }
                mean /= Float(n)
                var variance: Float = 0
                for i in 0..<n {
                    let d = row[i] - mean
                    variance += d * d
                }
                variance /= Float(n)
                let inv = 1 / (variance + eps).squareRoot()
                if let weight, let bias {
                    for i in 0..<n { row[i] = (row[i] - mean) * inv * weight.base[i] + bias.base[i] }
                } else {
                    for i in 0..<n { row[i] = (row[i] - mean) * inv }
                }
            }
        }
    }

    /// Exact GELU, `x/2 * (1 + erf(x/sqrt 2))`, in place.
    public static func gelu(_ x: inout Tensor) {
        x.data.withUnsafeMutableBufferPointer { p in
            for i in p.indices {
                let v = p[i]
                p[i] = 0.5 * v * (1 + erff(v * Float(0.70710678118654752440)))
            }
        }
    }

    /// `a += b`, elementwise.
    public static func add(_ a: inout Tensor, _ b: Tensor) {
        precondition(a.count == b.count, "add: \(a.shape) and \(b.shape)")
        a.data.withUnsafeMutableBufferPointer { p in
            b.data.withUnsafeBufferPointer { q in
                for i in p.indices { p[i] += q[i] }
            }
        }
    }

    /// Softmax of each row of a `rows x n` block, in place.
    public static func softmaxRows(_ p: UnsafeMutablePointer<Float>, rows: Int, n: Int) {
        for r in 0..<rows {
            let row = p + r * n
            var maxValue = -Float.infinity
            for i in 0..<n { maxValue = max(maxValue, row[i]) }
            if maxValue == -Float.infinity {
                // Every key masked: PyTorch's finite mask gives a uniform row.
                for i in 0..<n { row[i] = 1 / Float(n) }
                continue
            }
            var sum: Float = 0
            for i in 0..<n {
                let e = expf(row[i] - maxValue)
                row[i] = e
                sum += e
            }
            let inv = 1 / sum
            for i in 0..<n { row[i] *= inv }
        }
    }

    /// Scaled dot-product attention of many heads over a batch.
    ///
    /// `q` is `batch x seqQ x (heads*headDim)` and `k`, `v` are `batch x seqK x (heads*headDim)`
    /// (rows of width `rowStride`, heads side by side, as the projections produce them). The
    /// result has the layout of `q`. `keyMask[b][j] == false` excludes key j of batch member b.
    public static func attention(q: Tensor, k: Tensor, v: Tensor, batch: Int, seqQ: Int, seqK: Int,
                                 heads: Int, keyMask: [[Bool]]? = nil, scale: Float? = nil) -> Tensor {
        let width = q.cols
        let headDim = width / heads
        let s = scale ?? 1 / Float(headDim).squareRoot()
        var out = Tensor(zeros: q.shape)
        var scores = [Float](repeating: 0, count: seqQ * seqK)
        q.data.withUnsafeBufferPointer { qp in
            k.data.withUnsafeBufferPointer { kp in
                v.data.withUnsafeBufferPointer { vp in
                    out.data.withUnsafeMutableBufferPointer { op in
                        scores.withUnsafeMutableBufferPointer { sp in
                            for b in 0..<batch {
                                for h in 0..<heads {
                                    let qBase = qp.baseAddress! + b * seqQ * width + h * headDim
                                    let kBase = kp.baseAddress! + b * seqK * width + h * headDim
                                    let vBase = vp.baseAddress! + b * seqK * width + h * headDim
                                    let oBase = op.baseAddress! + b * seqQ * width + h * headDim
                                    Gemm.multiply(m: seqQ, n: seqK, k: headDim, a: qBase, lda: width,
                                                  b: kBase, ldb: width, transposeB: true,
                                                  c: sp.baseAddress!, ldc: seqK, alpha: s)
                                    if let mask = keyMask?[b] {
                                        for i in 0..<seqQ {
                                            for j in 0..<seqK where !mask[j] {
                                                sp[i * seqK + j] = -Float.infinity
                                            }
                                        }
                                    }
                                    softmaxRows(sp.baseAddress!, rows: seqQ, n: seqK)
                                    Gemm.multiply(m: seqQ, n: headDim, k: seqK, a: sp.baseAddress!, lda: seqK,
                                                  b: vBase, ldb: width,
                                                  c: oBase, ldc: width)
                                }
                            }
                        }
                    }
                }
            }
        }
        return out
    }
}
