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
