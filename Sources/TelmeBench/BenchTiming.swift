import Foundation
import TelmeTensor

/// Median-of-repeats timing.
struct BenchTiming {
    var repeats: Int
    var warmup: Int
    /// Shortest timed sample of one sgemm shape: tiny shapes are called in a loop this long.
    static let minimumSample = 0.1

    /// `warmup` untimed runs of `body`, then `repeats` timed ones (seconds each).
    func measure(_ body: () throws -> Void) rethrows -> [Double] {
        for _ in 0..<warmup { try body() }
        return try (0..<repeats).map { _ in
            let start = ContinuousClock.now
            try body()
            return (ContinuousClock.now - start).seconds
        }
    }

    /// Seconds of one run of `body`.
    func once(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return (ContinuousClock.now - start).seconds
    }

    /// `cblas_sgemm` on `shape` (row-major, values in [-1, 1]): seconds per call (the median
    /// of `repeats` samples of enough calls to last `minimumSample`) and GFLOP/s.
    /// The rate of each library on one product shape: OpenBLAS's `cblas_sgemm`, and oneDNN's
    /// packed matmul (a dense layer's, for B transposed) or `dnnl_sgemm`.
    func sgemm(_ shape: MatmulShape) -> BenchReport.Sgemm {
        let a = Self.values(shape.m * shape.k, seed: 1)
        let b = Self.values(shape.k * shape.n, seed: 2)
        var c = [Float](repeating: 0, count: shape.m * shape.n)
        func rate(_ once: () -> Void) -> Double {
            // Warm-up, and how many calls one sample needs.
            let single = BenchTiming(repeats: 1, warmup: max(1, warmup)).measure(once)[0]
            let loops = max(1, min(1_000_000, Int((Self.minimumSample / max(single, 1e-9)).rounded(.up))))
            let seconds = BenchTiming(repeats: repeats, warmup: 0).measure {
                for _ in 0..<loops { once() }
            }.map { $0 / Double(loops) }.median
            return shape.flops / seconds / 1e9
        }
        let rates = a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp -> [Backend: Double] in
                    guard let aBase = ap.baseAddress, let bBase = bp.baseAddress, let cBase = cp.baseAddress else { return [:] }
                    var rates: [Backend: Double] = [:]
                    for backend in Backend.allCases {
                        if backend == .onednn && shape.transposeB {
                            let layer = Linear(weight: WeightView(shape: [shape.n, shape.k], base: bBase), bias: nil,
                                               backend: .onednn)
                            let x = Tensor(shape: [shape.m, shape.k], data: a)
                            rates[backend] = rate { _ = layer(x) }
                            continue
                        }
                        rates[backend] = rate {
                            Gemm.multiply(m: shape.m, n: shape.n, k: shape.k, a: aBase, lda: shape.k,
                                          b: bBase, ldb: shape.transposeB ? shape.k : shape.n,
                                          transposeB: shape.transposeB, c: cBase, ldc: shape.n, backend: backend)
                        }
                    }
                    return rates
                }
            }
        }
        let best = rates.values.max() ?? 0
        return .init(m: shape.m, n: shape.n, k: shape.k, transposeB: shape.transposeB, seconds: shape.flops / best / 1e9,
                     gflops: best, openblasGflops: rates[.openblas] ?? 0, onednnGflops: rates[.onednn] ?? 0)
    }

    /// Deterministic values in [-1, 1].
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

extension Array where Element == Double {
    /// The middle value (the mean of the two middle ones for an even count); 0 when empty.
    var median: Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        return count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2
    }
}
