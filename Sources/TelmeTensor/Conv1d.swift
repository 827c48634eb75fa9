/// One-dimensional convolution on channels-last activations, as PyTorch's `nn.Conv1d` computes
/// it (cross-correlation, zero padding on both ends, optional groups).
///
/// Activations are `batch x length x channels` (time-major, channels contiguous) so that the
/// LayerNorms that follow the convolutions in data2vec-audio run over the last dimension.
/// Weights keep PyTorch's layout `out x (in / groups) x kernel` and are read in place.
/// Each group is an im2col copy of a block of output steps followed by one `cblas_sgemm`.
public enum Conv1d {
    /// Output steps of a convolution: `(length + 2 padding - kernel) / stride + 1`, or 0 when
    /// the padded input is shorter than the kernel (PyTorch refuses such inputs).
    public static func outputLength(inputLength: Int, kernel: Int, stride: Int, padding: Int = 0) -> Int {
        guard kernel > 0, stride > 0, inputLength >= 0, padding >= 0 else { return 0 }
        let padded = inputLength + 2 * padding
        guard padded >= kernel else { return 0 }
        return (padded - kernel) / stride + 1
    }

    /// Upper bound on the floats of one im2col block, so that long inputs (400 000 samples)
    /// do not need a copy of every patch at once.
    static let blockFloats = 1 << 20

    /// `x` is `batch x length x inChannels`; `weight` is `outChannels x (inChannels / groups) x
    /// kernel`; `bias` has `outChannels` values. Returns `batch x outLength x outChannels`.
    ///
    /// Shapes are the caller's responsibility (checked with preconditions): models validate
    /// their configs and inputs before calling.
    public static func forward(_ x: Tensor, weight: WeightView, bias: WeightView?,
                               stride: Int = 1, padding: Int = 0, groups: Int = 1) -> Tensor {
        Profile.measure("conv1d") {
            forward(x, weight: weight, bias: bias, stride: stride, padding: padding, groups: groups,
                    blockFloats: blockFloats)
        }
    }

    /// `forward` with an explicit im2col block size (tests use small blocks to cross block edges).
    static func forward(_ x: Tensor, weight: WeightView, bias: WeightView?,
                        stride: Int, padding: Int, groups: Int, blockFloats: Int) -> Tensor {
        precondition(x.shape.count == 3, "conv1d: input shape \(x.shape) is not batch x length x channels")
        precondition(weight.shape.count == 3, "conv1d: weight shape \(weight.shape)")
        let batch = x.shape[0], length = x.shape[1], inChannels = x.shape[2]
        let outChannels = weight.shape[0], groupIn = weight.shape[1], kernel = weight.shape[2]
        precondition(groups > 0 && stride > 0 && padding >= 0 && kernel > 0, "conv1d: bad parameters")
        precondition(inChannels == groupIn * groups && outChannels % groups == 0,
                     "conv1d: input channels \(inChannels), weight \(weight.shape), groups \(groups)")
        precondition(bias.map { $0.shape == [outChannels] } ?? true, "conv1d: bias shape")
        let outLength = outputLength(inputLength: length, kernel: kernel, stride: stride, padding: padding)
        precondition(outLength > 0, "conv1d: input of \(length) steps is shorter than the kernel \(kernel)")

        let groupOut = outChannels / groups
        let patch = groupIn * kernel
        let blockRows = max(1, min(outLength, blockFloats / max(patch, 1)))
        var out = Tensor(zeros: [batch, outLength, outChannels])
        var columns = [Float](repeating: 0, count: blockRows * patch)

        x.data.withUnsafeBufferPointer { xp in
            out.data.withUnsafeMutableBufferPointer { op in
                columns.withUnsafeMutableBufferPointer { cp in
                    let xBase = xp.baseAddress!, oBase = op.baseAddress!, col = cp.baseAddress!
                    if let bias {
                        for row in 0..<(batch * outLength) {
                            (oBase + row * outChannels).update(from: bias.base, count: outChannels)
                        }
                    }
                    for b in 0..<batch {
                        let input = xBase + b * length * inChannels
                        let output = oBase + b * outLength * outChannels
                        var start = 0
                        while start < outLength {
                            let rows = min(blockRows, outLength - start)
                            for g in 0..<groups {
                                // col[r][c * kernel + k] = x[(start + r) * stride - padding + k][g * groupIn + c],
                                // the order of PyTorch's weight rows, so the weight is used as stored.
                                for r in 0..<rows {
                                    let dst = col + r * patch
                                    let origin = (start + r) * stride - padding
                                    for k in 0..<kernel {
                                        let t = origin + k
                                        if t < 0 || t >= length {
                                            for c in 0..<groupIn { dst[c * kernel + k] = 0 }
                                        } else {
                                            let src = input + t * inChannels + g * groupIn
                                            for c in 0..<groupIn { dst[c * kernel + k] = src[c] }
                                        }
                                    }
                                }
                                Gemm.multiply(m: rows, n: groupOut, k: patch,
                                              a: col, lda: patch,
                                              b: weight.base + g * groupOut * patch, ldb: patch, transposeB: true,
                                              c: output + start * outChannels + g * groupOut, ldc: outChannels,
                                              beta: bias == nil ? 0 : 1)
                            }
                            start += rows
                        }
                    }
                }
            }
        }
        return out
    }
}
