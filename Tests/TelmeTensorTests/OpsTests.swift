import Foundation
import Testing
@testable import TelmeTensor

@Suite struct OpsTests {
    @Test func linearMatchesHandComputation() throws {
        let weights = ArrayWeights()
        weights.set("w", shape: [2, 3], values: [1, 2, 3, 4, 5, 6])
        weights.set("b", shape: [2], values: [0.5, -1])
        let x = Tensor(shape: [2, 3], data: [1, 0, -1, 2, 1, 0])
        let y = Ops.linear(x, weight: try weights.weight("w"), bias: try weights.weight("b"))
        #expect(y.shape == [2, 2])
        let expected: [Float] = [-1.5, -3, 4.5, 12]
        #expect(y.data == expected)
    }

    @Test func layerNormHasZeroMeanUnitVariance() {
        var x = Tensor(shape: [1, 4], data: [1, 2, 3, 4])
        Ops.layerNorm(&x, weight: nil, bias: nil, eps: 0)
        let mean = x.data.reduce(0, +) / 4
        let variance = x.data.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
        #expect(abs(mean) < 1e-6)
        #expect(abs(variance - 1) < 1e-5)
    }

    @Test func geluKnownValues() {
        var x = Tensor(shape: [3], data: [0, 1, -1])
        Ops.gelu(&x)
        #expect(x.data[0] == 0)
        #expect(abs(x.data[1] - 0.8413447) < 1e-6)
        #expect(abs(x.data[2] + 0.1586553) < 1e-6)
    }

    @Test func attentionIgnoresMaskedKeys() {
        // One head, two keys; the second is masked, so the output is the first value.
        let q = Tensor(shape: [1, 1, 2], data: [1, 0])
        let k = Tensor(shape: [1, 2, 2], data: [1, 0, 5, 5])
        let v = Tensor(shape: [1, 2, 2], data: [3, 4, 100, 100])
        let out = Ops.attention(q: q, k: k, v: v, batch: 1, seqQ: 1, seqK: 2, heads: 1, keyMask: [[true, false]])
        #expect(out.data == [3, 4])
    }
}

/// The newer kernels, and attention against a direct computation.
@Suite struct OpsReferenceTests {
    /// Deterministic values in [-1, 1).
    static func values(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { i in Float(((i + 1) * 7919 + seed * 104_729) % 2000) / 1000 - 1 }
    }

    @Test func layerNormAppliesAffinePart() throws {
        let weights = ArrayWeights()
        weights.set("w", shape: [4], values: [1, 2, 0.5, -1])
        weights.set("b", shape: [4], values: [0, 1, 0, 10])
        var x = Tensor(shape: [2, 4], data: [1, 2, 3, 4, 10, 10, 10, 10])
        Ops.layerNorm(&x, weight: try weights.weight("w"), bias: try weights.weight("b"), eps: 1e-5)
        // Row 0: mean 2.5, variance 1.25; row 1 is constant: everything becomes the bias.
        let s = 1 / (1.25 + 1e-5 as Float).squareRoot()
        let expected: [Float] = [-1.5 * s, 1 + 2 * -0.5 * s, 0.5 * 0.5 * s, 10 - 1.5 * s, 0, 1, 0, 10]
        for (a, b) in zip(x.data, expected) { #expect(abs(a - b) < 1e-6) }
    }

    @Test func rowsAreGatheredAddedAndSelected() throws {
        let weights = ArrayWeights()
        weights.set("table", shape: [3, 2], values: [0, 1, 10, 11, 20, 21])
        let table = try weights.weight("table")
        var x = Ops.gatherRows(table, indices: [2, 0, 2], shape: [1, 3])
        #expect(x.shape == [1, 3, 2])
        #expect(x.data == [20, 21, 0, 1, 20, 21])
        Ops.addRows(&x, table: table, indices: [1, 1, 0])
        #expect(x.data == [30, 32, 10, 12, 20, 22])
        let picked = Ops.selectRows(x, [2, 0])
        #expect(picked.shape == [2, 2])
        #expect(picked.data == [20, 22, 30, 32])
    }

    @Test func softmaxOfFullyMaskedRowIsUniform() {
        var row: [Float] = [-.infinity, -.infinity, -.infinity, -.infinity, 1, 2, -.infinity, 0]
        row.withUnsafeMutableBufferPointer { Ops.softmaxRows($0.baseAddress!, rows: 2, n: 4) }
        #expect(Array(row[0..<4]) == [0.25, 0.25, 0.25, 0.25])
        let e: [Float] = [expf(-1), 1, 0, expf(-2)]
        let sum = e.reduce(0, +)
        for (a, b) in zip(row[4...], e.map { $0 / sum }) { #expect(abs(a - b) < 1e-7) }
    }

    /// Softmax attention written out element by element, in double precision.
    static func directAttention(q: [Float], k: [Float], v: [Float], batch: Int, seqQ: Int, seqK: Int, heads: Int,
                                width: Int, mask: [[Bool]]) -> [Float] {
        let d = width / heads
        var out = [Float](repeating: 0, count: batch * seqQ * width)
        for b in 0..<batch {
            for h in 0..<heads {
                for i in 0..<seqQ {
                    var scores = (0..<seqK).map { j -> Double in
                        guard mask[b][j] else { return -.infinity }
                        var dot = 0.0
                        for c in 0..<d {
                            dot += Double(q[(b * seqQ + i) * width + h * d + c]) * Double(k[(b * seqK + j) * width + h * d + c])
                        }
                        return dot / Double(d).squareRoot()
                    }
                    let top = scores.max()!
                    scores = top == -.infinity ? scores.map { _ in 1 } : scores.map { exp($0 - top) }
                    let total = scores.reduce(0, +)
                    for c in 0..<d {
                        var sum = 0.0
                        for j in 0..<seqK { sum += scores[j] / total * Double(v[(b * seqK + j) * width + h * d + c]) }
                        out[(b * seqQ + i) * width + h * d + c] = Float(sum)
                    }
                }
            }
        }
        return out
    }

    @Test(arguments: [(1, 3, 3, 1), (2, 5, 5, 3), (3, 1, 6, 2)])
    func attentionMatchesDirectComputation(batch: Int, seqQ: Int, seqK: Int, heads: Int) {
        let width = heads * 4
        let q = Self.values(batch * seqQ * width, seed: 1)
        let k = Self.values(batch * seqK * width, seed: 2)
        let v = Self.values(batch * seqK * width, seed: 3)
        // Member 0 attends everywhere, member 1 not to its first two keys, member 2 to nothing.
        let mask = (0..<batch).map { b in (0..<seqK).map { j in b == 0 || (b == 1 && j >= 2) } }
        let out = Ops.attention(q: Tensor(shape: [batch, seqQ, width], data: q),
                                k: Tensor(shape: [batch, seqK, width], data: k),
                                v: Tensor(shape: [batch, seqK, width], data: v),
                                batch: batch, seqQ: seqQ, seqK: seqK, heads: heads, keyMask: mask)
        let expected = Self.directAttention(q: q, k: k, v: v, batch: batch, seqQ: seqQ, seqK: seqK, heads: heads,
                                            width: width, mask: mask)
        #expect(out.shape == [batch, seqQ, width])
        #expect(zip(out.data, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    }

    @Test func linearLayerChecksShapesByName() throws {
        let weights = ArrayWeights()
        weights.set("fc.weight", shape: [2, 3], values: [1, 0, 0, 0, 1, 0])
        weights.set("fc.bias", shape: [2], values: [5, 6])
        let layer = try Linear(weights, "fc", out: 2, in: 3)
        #expect(layer(Tensor(shape: [1, 3], data: [7, 8, 9])).data == [12, 14])
        #expect(throws: WeightError(name: "fc.weight", expected: [3, 3], found: [2, 3])) {
            try Linear(weights, "fc", out: 3, in: 3)
        }
        #expect(throws: WeightError(name: "nobias.bias")) {
            weights.set("nobias.weight", shape: [2, 3], values: [Float](repeating: 0, count: 6))
            return try Linear(weights, "nobias", out: 2, in: 3)
        }
        let noBias = try Linear(weights, "nobias", out: 2, in: 3, bias: false)
        #expect(noBias(Tensor(shape: [1, 3], data: [7, 8, 9])).data == [0, 0])
    }

    /// A stacked layer's output is its parts' outputs side by side, bit for bit, on each backend.
    @Test(arguments: [Backend.openblas, .onednn])
    func stackedLayersMatchTheirParts(backend: Backend) throws {
        let weights = ArrayWeights()
        var generator = UInt64(7)
        func next() -> Float {
            generator = generator &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(Int(generator >> 40) % 2001 - 1000) / 997
        }
        let (out, inDim, rows) = (24, 40, 9)
        for name in ["q", "k", "v"] {
            weights.set("\(name).weight", shape: [out, inDim], values: (0..<(out * inDim)).map { _ in next() })
            weights.set("\(name).bias", shape: [out], values: (0..<out).map { _ in next() })
        }
        let x = Tensor(shape: [rows, inDim], data: (0..<(rows * inDim)).map { _ in next() })
        try Compute.with(backend: backend, precision: .f32) {
            let stacked = try Linear(weights, stacking: ["q", "k", "v"], out: out, in: inDim)(x)
            let parts = try ["q", "k", "v"].map { try Linear(weights, $0, out: out, in: inDim)(x) }
            #expect(stacked.shape == [rows, 3 * out])
            for r in 0..<rows {
                let expected = parts.flatMap { Array($0.row(r)) }
                #expect(Array(stacked.row(r)) == expected)
            }
        }
    }
}
