/// One-dimensional convolution on channels-last activations, as PyTorch's `nn.Conv1d` computes
/// it (cross-correlation, zero padding on both ends, optional groups).
///
/// Activations are `batch x length x channels` (time-major, channels contiguous) so that the
/// LayerNorms that follow the convolutions in data2vec-audio run over the last dimension.
/// A `Conv1d.Kernel` holds the weights reordered once from PyTorch's `out x (in / groups) x
/// kernel` to `out x kernel x (in / groups)`: then each row of the im2col copy is `kernel`
/// contiguous runs of input channels (one run for the whole patch without groups), copied on
/// every thread. Each group is an im2col copy of a block of output steps followed by one
/// product: `cblas_sgemm` on those weights, or with oneDNN a dense layer's packed matmul.
public enum Conv1d {
    /// Conv weights in the order the products read them: `out x kernel x (in / groups)`.
    public struct Kernel: Sendable {
        public let outChannels: Int
        /// Input channels per group.
        public let groupIn: Int
        public let width: Int
        /// `values[(o * width + k) * groupIn + c]` is PyTorch's `weight[o][c][k]`.
        public let values: [Float]
        public let groups: Int
        /// With oneDNN: each group's `groupOut x (kernel groupIn)` weights packed as a dense
        /// layer's (with its slice of the bias), built with the backend in force.
        let packed: [PackedDense]?

        /// Reorders a PyTorch conv weight `out x (in / groups) x kernel`; `bias` has `out` values.
        /// A `quantisable` convolution runs in int8 when that is the precision in force (as a
        /// `Linear`'s: weights per output channel, each im2col row per row).
        public init(_ weight: WeightView, bias: WeightView?, groups: Int = 1, quantisable: Bool = false) {
            precondition(weight.shape.count == 3 && groups > 0 && weight.shape[0] % groups == 0,
                         "conv1d: weight shape \(weight.shape) for \(groups) groups")
            precondition(bias.map { $0.shape == [weight.shape[0]] } ?? true, "conv1d: bias shape")
            let out = weight.shape[0], groupIn = weight.shape[1], width = weight.shape[2]
            outChannels = out
            self.groupIn = groupIn
            self.width = width
            self.groups = groups
            self.bias = bias
            let values = [Float](unsafeUninitializedCapacity: out * groupIn * width) { buffer, initialized in
                for o in 0..<out {
                    for c in 0..<groupIn {
                        for k in 0..<width {
                            buffer[(o * width + k) * groupIn + c] = weight.base[(o * groupIn + c) * width + k]
                        }
                    }
                }
                initialized = out * groupIn * width
            }
            self.values = values
            let groupOut = out / groups, patch = groupIn * width
            packed = Compute.backend != .onednn ? nil : values.withUnsafeBufferPointer { v in
                (0..<groups).map { g in
                    PackedDense(weight: WeightView(shape: [groupOut, patch], base: v.baseAddress! + g * groupOut * patch),
                                bias: bias.map { WeightView(shape: [groupOut], base: $0.base + g * groupOut) },
                                gelu: false, precision: quantisable ? Compute.precision : .f32)
                }
            }
        }

        /// The bias (`outChannels`), added to every output step.
        public let bias: WeightView?

        /// The arithmetic of the products.
        public var precision: Precision { packed?.first?.precision ?? .f32 }
    }

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

    /// `x` is `batch x length x inChannels`; `bias` has `outChannels` values. Returns
    /// `batch x outLength x outChannels`.
    ///
    /// Shapes are the caller's responsibility (checked with preconditions): models validate
    /// their configs and inputs before calling.
    public static func forward(_ x: Tensor, kernel: Kernel, stride: Int = 1, padding: Int = 0) -> Tensor {
        Profile.measure("conv1d") {
            forward(x, kernel: kernel, stride: stride, padding: padding, blockFloats: blockFloats)
        }
    }

    /// `forward` with an explicit im2col block size (tests use small blocks to cross block edges).
    static func forward(_ x: Tensor, kernel weights: Kernel, stride: Int, padding: Int, blockFloats: Int) -> Tensor {
        let groups = weights.groups
        precondition(x.shape.count == 3, "conv1d: input shape \(x.shape) is not batch x length x channels")
        let batch = x.shape[0], length = x.shape[1], inChannels = x.shape[2]
        let outChannels = weights.outChannels, groupIn = weights.groupIn, kernel = weights.width
        precondition(groups > 0 && stride > 0 && padding >= 0 && kernel > 0, "conv1d: bad parameters")
        precondition(inChannels == groupIn * groups && outChannels % groups == 0,
                     "conv1d: input channels \(inChannels), weight \([outChannels, groupIn, kernel]), groups \(groups)")
        let outLength = outputLength(inputLength: length, kernel: kernel, stride: stride, padding: padding)
        precondition(outLength > 0, "conv1d: input of \(length) steps is shorter than the kernel \(kernel)")

        let groupOut = outChannels / groups
        let patch = groupIn * kernel
        let blockRows = max(1, min(outLength, blockFloats / max(patch, 1)))
        var columns = [Float](repeating: 0, count: blockRows * patch)
        let window = Window(length: length, inChannels: inChannels, groupIn: groupIn, groups: groups,
                            kernel: kernel, stride: stride, padding: padding)

        // Every value is written: the bias rows then the products (beta 1), or the products alone.
        return Tensor(shape: [batch, outLength, outChannels]) { oBase, _ in
            x.data.withUnsafeBufferPointer { xp in
                weights.values.withUnsafeBufferPointer { wp in
                    columns.withUnsafeMutableBufferPointer { cp in
                        let col = cp.baseAddress!
                        if let bias = weights.bias, weights.packed == nil {
                            for row in 0..<(batch * outLength) {
                                (oBase + row * outChannels).update(from: bias.base, count: outChannels)
                            }
                        }
                        for b in 0..<batch {
                            let input = xp.baseAddress! + b * length * inChannels
                            let output = oBase + b * outLength * outChannels
                            for start in Swift.stride(from: 0, to: outLength, by: blockRows) {
                                let rows = min(blockRows, outLength - start)
                                for g in 0..<groups {
                                    window.columns(of: input, group: g, steps: start..<(start + rows), into: col)
                                    let target = output + start * outChannels + g * groupOut
                                    if let packed = weights.packed {
                                        packed[g].multiply(col, rows: rows, into: target, ldc: outChannels)
                                    } else {
                                        Gemm.multiply(m: rows, n: groupOut, k: patch, a: col, lda: patch,
                                                      b: wp.baseAddress! + g * groupOut * patch, ldb: patch,
                                                      transposeB: true, c: target, ldc: outChannels,
                                                      beta: weights.bias == nil ? 0 : 1)
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// The input windows of a convolution, copied out as im2col rows.
    struct Window {
        let length, inChannels, groupIn, groups, kernel, stride, padding: Int

        /// Row `r` of `col` (`kernel groupIn` floats) gets the window of output step
        /// `steps.lowerBound + r` in group `g`: `col[r][k * groupIn + c] =
        /// x[step * stride - padding + k][g * groupIn + c]`, zero outside the input.
        func columns(of input: UnsafePointer<Float>, group g: Int, steps: Range<Int>,
                     into col: UnsafeMutablePointer<Float>) {
            let patch = groupIn * kernel
            nonisolated(unsafe) let input = input, col = col
            Parallel.forEach(count: steps.count, floatsPerItem: patch) { range in
                for r in range {
                    let dst = col + r * patch
                    let origin = (steps.lowerBound + r) * stride - padding
                    if groups == 1 && origin >= 0 && origin + kernel <= length {
                        // Without groups the whole window is one run of the input.
                        dst.update(from: input + origin * inChannels, count: patch)
                        continue
                    }
                    for k in 0..<kernel {
                        let t = origin + k
                        let to = dst + k * groupIn
                        if t < 0 || t >= length {
                            to.update(repeating: 0, count: groupIn)
                        } else {
                            to.update(from: input + t * inChannels + g * groupIn, count: groupIn)
                        }
                    }
                }
            }
        }
    }
}
