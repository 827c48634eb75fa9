/// Pillow's `Image.resize(size, Image.BILINEAR)` for 8-bit images, bit for bit.
///
/// This is the algorithm of Pillow's `ImagingResample` (`src/libImaging/Resample.c`), which
/// transformers' image processors call: a separable triangle filter whose support grows with the
/// downscale factor, coefficients computed in double, normalised to sum 1 and then turned into
/// 22-bit fixed point; a horizontal pass over the source rows the vertical pass will read, rounded
/// and clipped to 8 bits, then a vertical pass, rounded and clipped again.
enum PILBilinear {
    /// Fixed-point precision of the coefficients (`PRECISION_BITS = 32 - 8 - 2`).
    static let precisionBits = 22

    /// Filter taps of one output axis: output `i` reads `count[i]` inputs from `first[i]`, with
    /// `weights[i * taps ..< i * taps + count[i]]`.
    struct Coefficients: Equatable {
        var taps: Int
        var first: [Int]
        var count: [Int]
        var weights: [Int32]
    }

    /// `precompute_coeffs` + `normalize_coeffs_8bpc` for the box `[0, inSize)` -> `outSize`.
    static func coefficients(inSize: Int, outSize: Int) -> Coefficients {
        let scale = Double(inSize) / Double(outSize)
        let filterScale = max(scale, 1.0)
        let support = 1.0 * filterScale
        let taps = Int(support.rounded(.up)) * 2 + 1
        var first = [Int](repeating: 0, count: outSize)
        var count = [Int](repeating: 0, count: outSize)
        var weights = [Int32](repeating: 0, count: outSize * taps)
        var k = [Double](repeating: 0, count: taps)
        let inverse = 1.0 / filterScale
        for xx in 0..<outSize {
            let center = 0.0 + (Double(xx) + 0.5) * scale
            var xmin = Int(center - support + 0.5)
            if xmin < 0 { xmin = 0 }
            var xmax = Int(center + support + 0.5)
            if xmax > inSize { xmax = inSize }
            xmax -= xmin
            var sum = 0.0
            for x in 0..<max(xmax, 0) {
                var t = (Double(x + xmin) - center + 0.5) * inverse
                if t < 0 { t = -t }
                let w = t < 1.0 ? 1.0 - t : 0.0
                k[x] = w
                sum += w
            }
            for x in 0..<max(xmax, 0) where sum != 0 { k[x] /= sum }
            first[xx] = xmin
            count[xx] = max(xmax, 0)
            let one = Double(1 << precisionBits)
            for x in 0..<max(xmax, 0) {
                // (int)(±0.5 + k * 2^22): C truncates toward zero, so does Int(Double).
                weights[xx * taps + x] = Int32(k[x] < 0 ? -0.5 + k[x] * one : 0.5 + k[x] * one)
            }
        }
        return Coefficients(taps: taps, first: first, count: count, weights: weights)
    }

    /// `clip8`: the fixed-point sum shifted down, clipped to 0...255.
    @inline(__always)
    static func clip8(_ sum: Int) -> UInt8 {
        let v = sum >> precisionBits
        return v < 0 ? 0 : (v > 255 ? 255 : UInt8(v))
    }

    /// The crop window of a resize, in output pixels.
    typealias Crop = (x: Int, y: Int, width: Int, height: Int)

    /// Resizes a packed 8-bit image (`channels` bytes per pixel, row-major) to `outWidth` x
    /// `outHeight` and returns only the window `crop` of the result (x, y, width, height in output
    /// pixels), computing nothing outside it. The crop must lie inside the output.
    static func resize(_ pixels: [UInt8], width: Int, height: Int, channels: Int,
                       outWidth: Int, outHeight: Int, crop: Crop) -> [UInt8] {
        precondition(width > 0 && height > 0 && outWidth > 0 && outHeight > 0 && channels > 0)
        precondition(pixels.count == width * height * channels)
        precondition(crop.x >= 0 && crop.y >= 0 && crop.x + crop.width <= outWidth && crop.y + crop.height <= outHeight)
        // Pillow skips a pass whose size does not change (the other pass is then exact).
        let vertical = outHeight != height ? coefficients(inSize: height, outSize: outHeight) : nil
        let horizontal = outWidth != width ? coefficients(inSize: width, outSize: outWidth) : nil
        let rows = sourceRows(crop, vertical: vertical, height: height)
        let temp = horizontalPass(pixels, width: width, channels: channels, rows: rows, crop: crop,
                                  horizontal: horizontal)
        return verticalPass(temp, rowLow: rows.lowerBound, rowBytes: crop.width * channels, crop: crop,
                            vertical: vertical)
    }

    /// The source rows the cropped output rows read (all of them with `vertical` nil: no vertical pass).
    static func sourceRows(_ crop: Crop, vertical: Coefficients?, height: Int) -> Range<Int> {
        var rowLow = height, rowHigh = 0
        for yy in crop.y..<(crop.y + crop.height) {
            if let vertical {
                rowLow = min(rowLow, vertical.first[yy])
                rowHigh = max(rowHigh, vertical.first[yy] + vertical.count[yy])
            } else {
                rowLow = min(rowLow, yy)
                rowHigh = max(rowHigh, yy + 1)
            }
        }
        if rowHigh < rowLow { rowHigh = rowLow }
        return rowLow..<rowHigh
    }

    /// Horizontal pass on the source `rows`, cropped columns only: `temp[(row - rows.lowerBound),
    /// x - crop.x]`; a copy with `horizontal` nil. Each channel is an independent sum (Pillow keeps
    /// them in ss0...ss3); the loops only reorder work, not arithmetic, so the result is the same bits.
    static func horizontalPass(_ pixels: [UInt8], width: Int, channels: Int, rows: Range<Int>, crop: Crop,
                               horizontal: Coefficients?) -> [UInt8] {
        let rowBytes = crop.width * channels
        var temp = [UInt8](repeating: 0, count: rows.count * rowBytes)
        let weights = horizontal?.weights ?? []
        withPointers(pixels, &temp, weights) { source, out, weights in
            for r in 0..<rows.count {
                let sourceRow = source + (rows.lowerBound + r) * width * channels
                for xx in 0..<crop.width {
                    let ox = crop.x + xx
                    let o = out + r * rowBytes + xx * channels
                    guard let horizontal, let weights else {
                        for c in 0..<channels { o[c] = sourceRow[ox * channels + c] }
                        continue
                    }
                    filter(sourceRow + horizontal.first[ox] * channels, taps: horizontal.count[ox],
                           weights: weights + ox * horizontal.taps, channels: channels, into: o)
                }
            }
        }
        return temp
    }

    /// One output pixel of the horizontal pass: `taps` source pixels from `first`, weighted.
    @inline(__always)
    static func filter(_ first: UnsafePointer<UInt8>, taps: Int, weights w: UnsafePointer<Int32>, channels: Int,
                       into o: UnsafeMutablePointer<UInt8>) {
        let half = 1 << (precisionBits - 1)
        if channels == 3 {
            var s0 = half, s1 = half, s2 = half
            for x in 0..<taps {
                let k = Int(w[x]), p = first + x * 3
                s0 &+= Int(p[0]) &* k
                s1 &+= Int(p[1]) &* k
                s2 &+= Int(p[2]) &* k
            }
            o[0] = clip8(s0)
            o[1] = clip8(s1)
            o[2] = clip8(s2)
        } else {
            for c in 0..<channels {
                var sum = half
                for x in 0..<taps { sum &+= Int(first[x * channels + c]) &* Int(w[x]) }
                o[c] = clip8(sum)
            }
        }
    }

    /// Vertical pass from the horizontal pass's rows (the first is source row `rowLow`) into
    /// the crop; a copy with `vertical` nil.
    static func verticalPass(_ temp: [UInt8], rowLow: Int, rowBytes: Int, crop: Crop,
                             vertical: Coefficients?) -> [UInt8] {
        let half = 1 << (precisionBits - 1)
        var result = [UInt8](repeating: 0, count: crop.height * rowBytes)
        let weights = vertical?.weights ?? []
        withPointers(temp, &result, weights) { source, out, weights in
            var sums = [Int](repeating: 0, count: rowBytes)
            sums.withUnsafeMutableBufferPointer { sumBuffer in
                guard let sum = sumBuffer.baseAddress else { return }
                for yy in 0..<crop.height {
                    let oy = crop.y + yy
                    let o = out + yy * rowBytes
                    guard let vertical, let weights else {
                        o.update(from: source + (oy - rowLow) * rowBytes, count: rowBytes)
                        continue
                    }
                    // Row by row over the taps: the same sums, in the same order, per byte.
                    let first = source + (vertical.first[oy] - rowLow) * rowBytes
                    let w = weights + oy * vertical.taps
                    for i in 0..<rowBytes { sum[i] = half }
                    for y in 0..<vertical.count[oy] {
                        let k = Int(w[y]), row = first + y * rowBytes
                        for i in 0..<rowBytes { sum[i] &+= Int(row[i]) &* k }
                    }
                    for i in 0..<rowBytes { o[i] = clip8(sum[i]) }
                }
            }
        }
        return result
    }

    /// Runs `body` with the bases of a pass's input, output and weights (nil weights: no
    /// filtering in this pass); nothing runs when the input or the output is empty.
    private static func withPointers(_ input: [UInt8], _ output: inout [UInt8], _ weights: [Int32],
                                     _ body: (UnsafePointer<UInt8>, UnsafeMutablePointer<UInt8>,
                                              UnsafePointer<Int32>?) -> Void) {
        input.withUnsafeBufferPointer { inputBuffer in
            output.withUnsafeMutableBufferPointer { outputBuffer in
                weights.withUnsafeBufferPointer { weightBuffer in
                    guard let source = inputBuffer.baseAddress, let out = outputBuffer.baseAddress else { return }
                    body(source, out, weightBuffer.baseAddress)
                }
            }
        }
    }
}
