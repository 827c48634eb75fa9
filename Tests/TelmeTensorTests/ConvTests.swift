import Foundation
import Testing
@testable import TelmeTensor

@Suite struct ConvTests {
    /// Direct-loop convolution straight from PyTorch's definition (channels-last in and out),
    /// in Double: the reference the im2col + sgemm path must match.
    static func reference(_ x: Tensor, weight: [Float], weightShape: [Int], bias: [Float]?,
                          stride: Int, padding: Int, groups: Int) -> [Float] {
        let batch = x.shape[0], length = x.shape[1], inChannels = x.shape[2]
        let outChannels = weightShape[0], groupIn = weightShape[1], kernel = weightShape[2]
        let groupOut = outChannels / groups
        let outLength = (length + 2 * padding - kernel) / stride + 1
        var out = [Float]()
        for b in 0..<batch {
            for t in 0..<outLength {
                for o in 0..<outChannels {
                    let g = o / groupOut
                    var sum = Double(bias?[o] ?? 0)
                    for c in 0..<groupIn {
                        for k in 0..<kernel {
                            let s = t * stride - padding + k
                            guard s >= 0, s < length else { continue }
                            let xv = x.data[(b * length + s) * inChannels + g * groupIn + c]
                            sum += Double(xv) * Double(weight[(o * groupIn + c) * kernel + k])
                        }
                    }
                    out.append(Float(sum))
                }
            }
        }
        return out
    }

    /// Deterministic pseudo-random values in [-1, 1).
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 6364136223846793005 &+ 1442695040888963407
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Int64(bitPattern: state >> 11) % 2_000_000) / 1_000_000 - 1
        }
    }

    struct Case: CustomTestStringConvertible, Sendable {
        var batch, length, inChannels, outChannels, kernel, stride, padding, groups: Int
        var bias: Bool
        var blockFloats: Int
        var testDescription: String {
            "b\(batch) L\(length) \(inChannels)->\(outChannels) k\(kernel) s\(stride) p\(padding) g\(groups) bias \(bias) block \(blockFloats)"
        }
    }

    static let cases: [Case] = [
        // data2vec-audio's first layer: one input channel, kernel 10, stride 5.
        Case(batch: 1, length: 57, inChannels: 1, outChannels: 6, kernel: 10, stride: 5, padding: 0, groups: 1, bias: true, blockFloats: 1 << 20),
        // Later feature layers: kernel 3 stride 2, and kernel 2 stride 2 (windows that touch).
        Case(batch: 2, length: 23, inChannels: 5, outChannels: 7, kernel: 3, stride: 2, padding: 0, groups: 1, bias: false, blockFloats: 1 << 20),
        Case(batch: 1, length: 9, inChannels: 4, outChannels: 3, kernel: 2, stride: 2, padding: 0, groups: 1, bias: true, blockFloats: 1 << 20),
        // Positional conv: same-length grouped conv, odd and even kernels.
        Case(batch: 2, length: 11, inChannels: 8, outChannels: 8, kernel: 5, stride: 1, padding: 2, groups: 4, bias: true, blockFloats: 1 << 20),
        Case(batch: 1, length: 6, inChannels: 6, outChannels: 6, kernel: 4, stride: 1, padding: 2, groups: 3, bias: true, blockFloats: 1 << 20),
        // Padding wider than the input (a one-frame sequence through kernel 19).
        Case(batch: 1, length: 1, inChannels: 4, outChannels: 4, kernel: 19, stride: 1, padding: 9, groups: 2, bias: true, blockFloats: 1 << 20),
        // Blocks of output steps much smaller than the sequence, with a ragged last block.
        Case(batch: 2, length: 40, inChannels: 3, outChannels: 5, kernel: 3, stride: 1, padding: 1, groups: 1, bias: true, blockFloats: 7 * 9),
        Case(batch: 1, length: 50, inChannels: 4, outChannels: 4, kernel: 3, stride: 2, padding: 0, groups: 2, bias: false, blockFloats: 1),
    ]

    @Test(arguments: cases, Backend.allCases) func matchesDirectConvolution(_ c: Case, backend: Backend) throws {
        try Compute.with(backend: backend) { try matchesDirectConvolution(c) }
    }

    func matchesDirectConvolution(_ c: Case) throws {
        let weights = ArrayWeights()
        let weightShape = [c.outChannels, c.inChannels / c.groups, c.kernel]
        let w = Self.values(weightShape.reduce(1, *), seed: 1)
        let b = Self.values(c.outChannels, seed: 2)
        weights.set("w", shape: weightShape, values: w)
        weights.set("b", shape: [c.outChannels], values: b)
        let x = Tensor(shape: [c.batch, c.length, c.inChannels], data: Self.values(c.batch * c.length * c.inChannels, seed: 3))
        let kernel = Conv1d.Kernel(try weights.weight("w"), bias: c.bias ? try weights.weight("b") : nil, groups: c.groups)
        let y = Conv1d.forward(x, kernel: kernel, stride: c.stride, padding: c.padding, blockFloats: c.blockFloats)
        let outLength = Conv1d.outputLength(inputLength: c.length, kernel: c.kernel, stride: c.stride, padding: c.padding)
        #expect(y.shape == [c.batch, outLength, c.outChannels])
        let expected = Self.reference(x, weight: w, weightShape: weightShape, bias: c.bias ? b : nil,
                                      stride: c.stride, padding: c.padding, groups: c.groups)
        // Float32 sums of at most 24 products of values below 1: a few ulps of the sum.
        let error = zip(y.data, expected).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 2e-6)
    }

    /// int8 (`quantisable` under `--precision int8`): a data2vec-audio feature layer's shape
    /// (512 channels, kernel 3, stride 2) and a grouped one (each group written into its
    /// columns of the output), against the exact convolution. Per output step, relative error
    /// (Euclidean) measured 0.45 % (ungrouped, 1536-wide windows) and 0.18 % (grouped, 96-wide);
    /// the bounds leave 2x. A layer not `quantisable` stays float32 under int8.
    @Test(arguments: [(groups: 1, inChannels: 512, bound: 0.009), (groups: 2, inChannels: 64, bound: 0.0035)])
    func int8StaysCloseToTheExactConvolution(groups: Int, inChannels: Int, bound: Double) throws {
        let outChannels = inChannels, kernel = 3, length = 41
        let x = Tensor(shape: [1, length, inChannels], data: Self.values(length * inChannels, seed: 7))
        let weights = ArrayWeights()
        let weight = Self.values(outChannels * inChannels / groups * kernel, seed: 8).map { $0 / 20 }
        weights.set("w", shape: [outChannels, inChannels / groups, kernel], values: weight)
        weights.set("b", shape: [outChannels], values: Self.values(outChannels, seed: 9))
        let exact = Self.reference(x, weight: weight, weightShape: [outChannels, inChannels / groups, kernel],
                                   bias: try weights.weight("b").buffer.map { $0 }, stride: 2, padding: 0, groups: groups)
        try Compute.with(backend: .onednn, precision: .int8) {
            let plain = Conv1d.Kernel(try weights.weight("w"), bias: try weights.weight("b"), groups: groups)
            #expect(plain.precision == .f32)
            let kernel = Conv1d.Kernel(try weights.weight("w"), bias: try weights.weight("b"), groups: groups,
                                       quantisable: true)
            #expect(kernel.precision == .int8)
            let y = Conv1d.forward(x, kernel: kernel, stride: 2)
            #expect(y.shape == [1, 20, outChannels])
            var worst = 0.0
            for t in 0..<20 {
                let row = (0..<outChannels).map { t * outChannels + $0 }
                let diff = row.reduce(0.0) { $0 + pow(Double(y.data[$1] - exact[$1]), 2) }.squareRoot()
                let norm = row.reduce(0.0) { $0 + pow(Double(exact[$1]), 2) }.squareRoot()
                worst = max(worst, diff / norm)
            }
            print("int8 conv1d groups \(groups): max relative error \(worst)")
            #expect(worst > 0, "int8 ran exactly: not quantised?")
            #expect(worst <= bound)
        }
    }

    /// Values from PyTorch: `F.conv1d(x, w, b, stride=2, padding=1, groups=2)` on a 4-channel,
    /// 7-step input; checks PyTorch's weight layout and padding independently of `reference`.
    @Test func matchesPyTorch() throws {
        let x = Tensor(shape: [1, 7, 4], data: [
            0.5, -0.25, 1.0, 0.05, -1.0, 0.5, -2.0, -0.1, 2.0, -1.0, 4.0, 0.2, 0.25, -0.125, 0.5, 0.025,
            -0.75, 0.375, -1.5, -0.075, 1.5, -0.75, 3.0, 0.15, 3.0, -1.5, 6.0, 0.3,
        ])
        let weights = ArrayWeights()
        weights.set("w", shape: [4, 2, 3], values: (0..<24).map { (Float($0) - 11) / 7 })
        weights.set("b", shape: [4], values: [0.1, -0.2, 0.3, -0.4])
        let y = Conv1d.forward(x, kernel: Conv1d.Kernel(try weights.weight("w"), bias: try weights.weight("b"), groups: 2),
                               stride: 2, padding: 1)
        let torch: [Float] = [
            0.49285707, -0.02142857, -0.32142860, -1.92142856, -0.97142851, -0.73571438, 1.47857141, 3.02857161,
            -0.73928559, -0.61071426, 1.31785703, 2.41785717, -4.18571424, -2.55714297, 2.74285722, 10.14285851,
        ]
        #expect(y.shape == [1, 4, 4])
        let error = zip(y.data, torch).map { abs($0 - $1) }.max() ?? .infinity
        #expect(error <= 2e-6)
    }

    @Test func outputLengthFollowsPyTorch() {
        #expect(Conv1d.outputLength(inputLength: 400, kernel: 10, stride: 5) == 79)
        #expect(Conv1d.outputLength(inputLength: 9, kernel: 10, stride: 5) == 0)
        #expect(Conv1d.outputLength(inputLength: 10, kernel: 10, stride: 5) == 1)
        #expect(Conv1d.outputLength(inputLength: 7, kernel: 19, stride: 1, padding: 9) == 7)
        #expect(Conv1d.outputLength(inputLength: 7, kernel: 4, stride: 1, padding: 2) == 8)
    }
}
