import Foundation
import Testing
@testable import TelmeTensor

/// The vectorised kernels against libm on dense grids: GELU against `erf` in double precision,
/// exp against `expf`, LayerNorm's moments against a plain double loop.
@Suite struct KernelTests {
    /// GELU through libm's double `erf`, the exact value rounded once to float.
    static func geluReference(_ x: Float) -> Float {
        let v = Double(x)
        return Float(0.5 * v * (1 + erf(v / 2.0.squareRoot())))
    }

    @Test func geluMatchesErfToFloatRounding() {
        // Every 1/4096 on [-12, 12], plus the ends of the polynomial pieces and odd tails.
        var inputs = stride(from: -12.0, through: 12.0, by: 1.0 / 4096).map { Float($0) }
        let edges: [Double] = [1, 4].map { $0 * 2.0.squareRoot() }
        for edge in edges {
            for sign: Float in [1, -1] {
                var v = sign * Float(edge)
                for _ in 0..<3 { v = v.nextDown }
                for _ in 0..<7 {
                    inputs.append(v)
                    v = v.nextUp
                }
            }
        }
        inputs += [0, -0.0, 1e-30, -1e-30, 1e4, -1e4, .greatestFiniteMagnitude, 1, 2, 3]
        var x = Tensor(shape: [inputs.count], data: inputs)
        Ops.gelu(&x)
        var worst: Float = 0
        for (input, output) in zip(inputs, x.data) {
            let expected = Self.geluReference(input)
            let error = abs(output - expected)
            // Float evaluation: about 1 ulp of the result, or 1e-7 absolute where the result is
            // small (libm's `1 + erff(u)` route loses as much there to cancellation).
            let allowed = max(expected.ulp * 2, 1e-7)
            if error > allowed { Issue.record("gelu(\(input)) = \(output), expected \(expected)") }
            worst = max(worst, error)
        }
        #expect(worst < 1e-6)
        // Signs and special values as libm gives them.
        var special = Tensor(shape: [4], data: [.nan, .infinity, -.infinity, -100])
        Ops.gelu(&special)
        #expect(special.data[0].isNaN && special.data[1] == .infinity && special.data[2].isNaN)
        #expect(special.data[3] == 0)
    }

    @Test func geluOfEveryLengthHandlesTheTail() {
        for count in 0...9 {
            let inputs = (0..<count).map { Float($0) * 0.7 - 2 }
            var x = Tensor(shape: [count], data: inputs)
            Ops.gelu(&x)
            for (input, output) in zip(inputs, x.data) {
                #expect(abs(output - Self.geluReference(input)) <= max(2 * Self.geluReference(input).ulp, 1e-7))
            }
        }
    }

    @Test func expMatchesLibmWithinTwoUlp() {
        // The special values first: the loop below leaves out a tail shorter than one vector.
        let inputs: [Float] = [-.infinity, -87.5, -86.9] + stride(from: -90.0, through: 0, by: 1.0 / 1024).map { Float($0) }
        let width = Kernels.Lanes.scalarCount
        for start in stride(from: 0, to: inputs.count - width + 1, by: width) {
            let e = Kernels.expLanes(Kernels.Lanes(inputs[start..<(start + width)]))
            for j in 0..<width {
                let x = inputs[start + j]
                let expected = expf(x)
                if x < -87 {
                    #expect(e[j] == 0, "exp(\(x)) = \(e[j]) is not flushed to 0")
                } else {
                    #expect(abs(e[j] - expected) <= 2 * expected.ulp, "exp(\(x)) = \(e[j]), libm \(expected)")
                }
            }
        }
    }

    @Test func softmaxRowsSumToOneAndMatchLibm() {
        for n in [1, 3, 4, 7, 8, 197, 513] {
            var row = (0..<n).map { Float(($0 * 37) % 23) * 0.45 - 4 }
            if n > 3 { row[2] = -.infinity }
            let expected: [Float] = {
                let m = row.max()!
                let e = row.map { Double(expf($0 - m)) }
                let s = e.reduce(0, +)
                return e.map { Float($0 / s) }
            }()
            row.withUnsafeMutableBufferPointer { Ops.softmaxRows($0.baseAddress!, rows: 1, n: n) }
            for (a, b) in zip(row, expected) { #expect(abs(a - b) <= 4 * max(b.ulp, Float.leastNormalMagnitude)) }
            if n > 3 { #expect(row[2] == 0) }
            #expect(abs(row.reduce(0, +) - 1) < 1e-5)
        }
    }

    @Test func momentsMatchAPlainDoubleLoop() {
        for n in [1, 3, 4, 5, 768, 1023] {
            let row = (0..<n).map { Float(($0 * 7919) % 1000) / 100 - 3 }
            let mean = row.reduce(0.0) { $0 + Double($1) } / Double(n)
            let variance = row.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(n)
            let (m, v) = row.withUnsafeBufferPointer { Kernels.moments($0.baseAddress!, n: n) }
            #expect(abs(m - mean) <= 1e-12 * max(1, abs(mean)))
            #expect(abs(v - variance) <= 1e-12 * max(1, variance))
        }
    }

    @Test func parallelRangesCoverEveryItemOnce() {
        Gemm.setThreads(2)
        for count in [0, 1, 5, 100_000] {
            let seen = UnsafeMutableBufferPointer<Int32>.allocate(capacity: max(count, 1))
            seen.initialize(repeating: 0)
            defer { seen.deallocate() }
            nonisolated(unsafe) let marks = seen
            Parallel.forEach(count: count, floatsPerItem: 1) { range in
                for i in range { marks[i] += 1 }
            }
            #expect(seen.prefix(count).allSatisfy { $0 == 1 })
        }
    }

    /// With 2 threads a large job really is split: its two halves run on two threads
    /// (OpenBLAS's workers when the library has its job runner, else libdispatch's).
    @Test func parallelPartsRunOnTwoThreads() {
        Gemm.setThreads(2)
        let threads = UnsafeMutableBufferPointer<pthread_t>.allocate(capacity: 2)
        threads.initialize(repeating: pthread_self())
        defer { threads.deallocate() }
        nonisolated(unsafe) let slots = threads
        Parallel.forEach(count: 2, floatsPerItem: Parallel.minimumFloats) { range in
            for i in range { slots[i] = pthread_self() }
        }
        #expect(pthread_equal(threads[0], threads[1]) == 0)
    }

    /// `Profile` adds up the operations run while it collects, and nothing after `stop`.
    @Test func profileCountsOperations() {
        let weight = [Float](repeating: 0.5, count: 6)
        weight.withUnsafeBufferPointer { w in
            let view = WeightView(shape: [3, 2], base: w.baseAddress!)
            let x = Tensor(shape: [4, 2], data: [1, 2, 3, 4, 5, 6, 7, 8])
            Profile.start()
            _ = Ops.linear(x, weight: view, bias: nil)
            _ = Ops.linear(x, weight: view, bias: nil)
            var y = x
            Ops.gelu(&y)
            let collected = Profile.stop()
            _ = Ops.linear(x, weight: view, bias: nil)
            #expect(collected["linear"]?.calls == 2)
            #expect(collected["gelu"]?.calls == 1)
            #expect(collected["attention"] == nil)
            #expect((collected["linear"]?.seconds ?? -1) >= 0)
        }
    }
}

/// int8 quantisation of a row: round half to even, saturating, zero and non-finite rows safe.
@Suite struct QuantizeRowTests {
    @Test(arguments: [1, 7, 8, 9, 31, 1024]) func matchesTheScalarRule(count: Int) {
        let x = (0..<count).map { Float(sin(Double($0) * 0.7 + 0.3)) * 3 }
        var q = [Int8](repeating: 0, count: count)
        let a = q.withUnsafeMutableBufferPointer { Kernels.quantizeRow(x, count: count, into: $0.baseAddress!) }
        let top = x.map(abs).max()!
        #expect(a == (top > 0 ? top / 127 : 1))
        for i in 0..<count {
            #expect(q[i] == Int8((x[i] / a).rounded(.toNearestOrEven)), "\(i)")
        }
        #expect(q.contains(127) || q.contains(-127))
    }

    @Test func zeroAndNonFiniteRowsDoNotTrap() {
        var q = [Int8](repeating: 5, count: 9)
        let zeros = [Float](repeating: 0, count: 9)
        #expect(q.withUnsafeMutableBufferPointer { Kernels.quantizeRow(zeros, count: 9, into: $0.baseAddress!) } == 1)
        #expect(q == [Int8](repeating: 0, count: 9))
        let odd: [Float] = [.nan, .infinity, -.infinity, 1, -1, 0.4, 0.6, .nan, 2]
        let a = q.withUnsafeMutableBufferPointer { Kernels.quantizeRow(odd, count: 9, into: $0.baseAddress!) }
        #expect(a == 1)
        #expect(q == [0, 127, -127, 1, -1, 0, 1, 0, 2])
    }
}
