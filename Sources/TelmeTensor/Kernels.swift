/// Vectorised elementwise kernels on raw float buffers: exact GELU, exp for softmax. They
/// replace per-element libm calls (`erff` alone was 8-10% of an encoder's time) and stay
/// within float rounding of libm (checked in `KernelTests`).
///
/// The code uses the portable SIMD types only (no CPU-specific instructions), so it runs on
/// any x86-64 or arm64 machine.
enum Kernels {
    /// The vector the kernels work on: eight lanes, two of x86-64's baseline 4-lane registers,
    /// whose chains of multiply-adds interleave. Sixteen lanes made exp 3x slower (the standard
    /// library's generic mask operations were not inlined for them).
    typealias Lanes = SIMD8<Float>
    typealias LaneMask = SIMDMask<SIMD8<Int32>>
    typealias LaneBits = SIMD8<Int32>

    // MARK: GELU

    /// Exact GELU, `x/2 * (1 + erf(x / sqrt 2))`, in place on `count` floats.
    ///
    /// `1 + erf(u)` comes from two polynomials fitted on Chebyshev nodes: `erf(a) = a P(a^2)`
    /// for `a = |u| <= 1` (fit error < 4e-11) and `erfc(a)` on [1, 4] as a polynomial in
    /// `t = (2a - 5) / 3` (fit error < 7e-10); beyond 4, `erfc < 1.6e-8` is taken as 0.
    /// Negative inputs use `erfc` directly, so they keep their relative accuracy. Evaluated in
    /// float, the result is within about 1e-7 * |x| of the exactly rounded GELU (`KernelTests`
    /// checks every 1/4096 on [-12, 12]), the accuracy of libm's `erff` route.
    static func gelu(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let width = Lanes.scalarCount
        var i = 0
        while i + width <= count {
            store(geluLanes(load(p + i)), p + i)
            i += width
        }
        if i < count {
            var x = Lanes(repeating: 0)
            for j in 0..<(count - i) { x[j] = p[i + j] }
            let y = geluLanes(x)
            for j in 0..<(count - i) { p[i + j] = y[j] }
        }
    }

    @inline(__always)
    static func geluLanes(_ x: Lanes) -> Lanes {
        let u = x * 0.70710678118654752440
        let a = u.replacing(with: -u, where: u .< 0)
        let near = a .<= 1
        let positive = u .>= 0
        // Both pieces on every lane, then a choice per lane: most vectors mix the two, and a
        // branch on them was slower.
        let sum = erfNearZero(a, positive: positive, near: near)
            .replacing(with: erfcFar(a, positive: positive, near: near), where: .!near)
        return 0.5 * x * sum
    }

    /// `c0 + c1 x + ... + c7 x^7` by Estrin's scheme: independent pairs `c_i + c_{i+1} x`
    /// combined with x^2 and x^4, so the multiply-adds do not wait on one another as in Horner's
    /// chain (which bound GELU by latency: 2x slower).
    @inline(__always)
    static func estrin(_ x: Lanes, _ c0: Float, _ c1: Float, _ c2: Float, _ c3: Float, _ c4: Float, _ c5: Float,
                       _ c6: Float, _ c7: Float) -> Lanes {
        let x2 = x * x
        let x4 = x2 * x2
        let p01 = x * c1 + c0, p23 = x * c3 + c2, p45 = x * c5 + c4, p67 = x * c7 + c6
        return (p23 * x2 + p01) + (p67 * x2 + p45) * x4
    }

    /// `1 + erf(u)` for `a = |u| <= 1` (other lanes clamped, their value unused).
    @inline(__always)
    static func erfNearZero(_ a: Lanes, positive: LaneMask, near: LaneMask) -> Lanes {
        let s = a.replacing(with: 1, where: .!near)
        let s2 = s * s
        // Horner here (Estrin's order loses 1e-7 to the cancellation in `1 - small` near u = -1).
        var small = Lanes(repeating: -9.673594512524771e-06)
        small = small * s2 + 0.00011268258469323596
        small = small * s2 + -0.0008484397715059634
        small = small * s2 + 0.005221053538033006
        small = small * s2 + -0.026865438376817243
        small = small * s2 + 0.1128378262376934
        small = small * s2 + -0.3761263847617866
        small = small * s2 + 1.128379167062419
        small *= s
        return (1 - small).replacing(with: 1 + small, where: positive)
    }

    /// `1 + erf(u)` for `a = |u| > 1`, from `erfc(a)` (0 beyond 4; `near` lanes clamped, their
    /// value unused).
    @inline(__always)
    static func erfcFar(_ a: Lanes, positive: LaneMask, near: LaneMask) -> Lanes {
        let clamped = a.replacing(with: 1, where: near).replacing(with: 4, where: a .> 4)
        let t = (clamped * 2 - 5) * (1.0 / 3.0)
        // The degree-16 polynomial (coefficients from degree 0 up) in two Estrin halves.
        let t2 = t * t
        let low = estrin(t, 0.0004069521417999801, -0.0032674177540949617, 0.012252828385575294,
                         -0.028181964821757187, 0.04365132699710038, -0.04644783578233217,
                         0.031870754376273444, -0.009303876229685776)
        let high = estrin(t, -0.006650054652406663, 0.009742490714337174, -0.004635948465496725,
                          -0.0006709333960355832, 0.001991402634764528, -0.0006738857361108714,
                          -0.00023024818357712692, 0.00015382768515554218)
        let t8 = (t2 * t2) * (t2 * t2)
        var large = low + t8 * (high + t8 * -7.402110722463612e-06)
        large.replace(with: 0, where: a .> 4)
        return large.replacing(with: 2 - large, where: positive)
    }

    // MARK: Softmax

    /// `exp(x)` of each lane, Cephes' `expf` method: `x = n ln 2 + r` (ln 2 in two parts),
    /// a degree-6 polynomial for `exp(r)` on [-ln2/2, ln2/2], and `2^n` put into the exponent
    /// bits. Relative error about 1 ulp. Inputs below -87 (where float exp is denormal or 0),
    /// including -infinity, give exactly 0; inputs must be <= 88 (softmax gives <= 0).
    @inline(__always)
    static func expLanes(_ x: Lanes) -> Lanes {
        let magic: Float = 12_582_912  // 1.5 * 2^23: adding it rounds to an integer
        let clamped = x.replacing(with: -87, where: x .< -87)
        let shifted = clamped * 1.44269504088896341 + magic
        let n = shifted - magic
        var r = clamped - n * 0.693359375
        r = r - n * -2.12194440e-4
        // The degree-5 polynomial by Estrin's scheme (see `estrin`).
        let r2 = r * r
        let p = (r * 1.6666665459e-1 + 5.0000001201e-1) + (r * 8.3334519073e-3 + 4.1665795894e-2) * r2
            + (r * 1.9875691500e-4 + 1.3981999507e-3) * (r2 * r2)
        let y = p * r2 + r + 1
        // n as an integer from the low bits of `shifted`, moved into the exponent field.
        let integer = unsafeBitCast(shifted, to: LaneBits.self) &- unsafeBitCast(Lanes(repeating: magic), to: LaneBits.self)
        let scaled = unsafeBitCast(unsafeBitCast(y, to: LaneBits.self) &+ (integer &<< 23), to: Lanes.self)
        return scaled.replacing(with: 0, where: x .< -87)
    }

    /// Softmax of one row of `n` floats, in place. Keys excluded with -infinity get 0; a row
    /// whose keys are all excluded becomes uniform (see `Ops.softmaxRows`).
    static func softmax(_ row: UnsafeMutablePointer<Float>, n: Int) {
        let width = Lanes.scalarCount
        var maxLanes = Lanes(repeating: -.infinity)
        var i = 0
        while i + width <= n {
            let v = load(row + i)
            maxLanes.replace(with: v, where: v .> maxLanes)
            i += width
        }
        var maxValue = maxLanes.max()
        for j in i..<n { maxValue = max(maxValue, row[j]) }
        if maxValue == -.infinity {
            for j in 0..<n { row[j] = 1 / Float(n) }
            return
        }
        var sumLanes = Lanes(repeating: 0)
        i = 0
        while i + width <= n {
            let e = expLanes(load(row + i) - maxValue)
            store(e, row + i)
            sumLanes += e
            i += width
        }
        var sum = sumLanes.sum()
        if i < n {
            var tail = Lanes(repeating: -.infinity)
            for j in 0..<(n - i) { tail[j] = row[i + j] - maxValue }
            let e = expLanes(tail)
            for j in 0..<(n - i) {
                row[i + j] = e[j]
                sum += e[j]
            }
        }
        let scale = 1 / sum
        i = 0
        while i + width <= n {
            store(load(row + i) * scale, row + i)
            i += width
        }
        for j in i..<n { row[j] *= scale }
    }

    // MARK: LayerNorm

    /// Mean and biased variance of `n` floats, accumulated in double precision in two passes.
    static func moments(_ row: UnsafePointer<Float>, n: Int) -> (mean: Double, variance: Double) {
        var lanes = SIMD4<Double>(repeating: 0)
        var i = 0
        while i + 4 <= n {
            lanes += SIMD4<Double>(Double(row[i]), Double(row[i + 1]), Double(row[i + 2]), Double(row[i + 3]))
            i += 4
        }
        var sum = lanes.sum()
        while i < n {
            sum += Double(row[i])
            i += 1
        }
        let mean = sum / Double(n)
        lanes = SIMD4<Double>(repeating: 0)
        i = 0
        while i + 4 <= n {
            let d = SIMD4<Double>(Double(row[i]), Double(row[i + 1]), Double(row[i + 2]), Double(row[i + 3])) - mean
            lanes += d * d
            i += 4
        }
        var squares = lanes.sum()
        while i < n {
            let d = Double(row[i]) - mean
            squares += d * d
            i += 1
        }
        return (mean, squares / Double(n))
    }

    // MARK: int8

    /// Quantises one row symmetrically: `q[i] = round(x[i] / a)` (ties to even) with
    /// `a = max |x| / 127`, or 1 for a row of zeros or with a value that is not finite (whose
    /// lanes then saturate). Returns `a`.
    static func quantizeRow(_ x: UnsafePointer<Float>, count: Int, into q: UnsafeMutablePointer<Int8>) -> Float {
        let width = Lanes.scalarCount
        var largest = Lanes(repeating: 0)
        var i = 0
        while i + width <= count {
            let v = load(x + i)
            let magnitude = v.replacing(with: -v, where: v .< 0)
            largest = largest.replacing(with: magnitude, where: magnitude .> largest)
            i += width
        }
        var top = largest.max()
        while i < count { top = max(top, abs(x[i])); i += 1 }
        let a: Float = top > 0 && top.isFinite ? top / 127 : 1
        let inverse = Lanes(repeating: 1 / a)
        let low = Lanes(repeating: -127), high = Lanes(repeating: 127)
        let magic = Lanes(repeating: 12_582_912), magicBits = SIMD8<Int32>(repeating: 0x4B40_0000)
        i = 0
        while i + width <= count {
            // Clamped, and NaN to 0.
            var v = load(x + i) * inverse
            v = v.replacing(with: low, where: v .< low).replacing(with: high, where: v .> high)
                .replacing(with: 0, where: v .!= v)
            // Adding 1.5 * 2^23 rounds a number in [-127, 127] to a whole one, ties to even (the
            // float addition's own rounding), and leaves it in the low mantissa bits, offset by
            // 2^22: rounding and conversion without `rounded` and Swift's float-to-int, which
            // run lane by lane through libm and a generic path (perf: most of an int8 model
            // build and a fifth of an int8 run).
            let bits = unsafeBitCast(v + magic, to: SIMD8<Int32>.self) &- magicBits
            UnsafeMutableRawPointer(q + i).storeBytes(of: SIMD8<Int8>(truncatingIfNeeded: bits), as: SIMD8<Int8>.self)
            i += width
        }
        while i < count {
            let v = (x[i] / a).rounded(.toNearestOrEven)
            q[i] = v.isNaN ? 0 : Int8(max(-127, min(127, v)))
            i += 1
        }
        return a
    }

    @inline(__always)
    static func load(_ p: UnsafePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    static func load(_ p: UnsafeMutablePointer<Float>) -> Lanes {
        UnsafeRawPointer(p).loadUnaligned(as: Lanes.self)
    }

    @inline(__always)
    static func store(_ v: Lanes, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: Lanes.self)
    }
}
