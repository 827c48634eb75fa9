import Foundation
import Testing
import TelmeFormat

@Suite("Checksums and 16-bit conversions")
struct PrimitiveTests {
    /// Inputs by name, so that test reports stay short.
    static func xxh64Input(_ name: String) -> [UInt8] {
        switch name {
        case "37 bytes (i * 7) % 251": (0..<37).map { UInt8(($0 * 7) % 251) }
        case "0...255 four times, then xyz": (0..<4).flatMap { _ in (0..<256).map { UInt8($0) } } + Array("xyz".utf8)
        default: Array(name.utf8)
        }
    }

    static let xxh64Cases: [(String, UInt64, UInt64)] = [
        ("", 0, 0xEF46_DB37_51D8_E999),
        ("a", 0, 0xD24E_C4F1_A98C_6E5B),
        ("abc", 0, 0x44BC_2CF5_AD77_0999),
        ("Nobody inspects the spammish repetition", 0, 0xFBCE_A83C_8A37_8BF1),
        ("37 bytes (i * 7) % 251", 12345, 0xEF34_FFE7_6659_D560),
        ("0...255 four times, then xyz", 0, 0xE146_CB31_B65B_C21A),
    ]

    /// Expected digests from the reference C library (libxxhash 0.8.1, `XXH64(data, len, seed)`).
    @Test(arguments: xxh64Cases)
    func xxh64MatchesReference(input: String, seed: UInt64, expected: UInt64) {
        #expect(XXH64.hash(Self.xxh64Input(input), seed: seed) == expected)
    }

    /// Hand-computed round-to-nearest-even cases (checked against PyTorch's
    /// `tensor.to(torch.bfloat16)` for every non-NaN row).
    static let bfloat16Cases: [(UInt32, UInt16)] = [
        (0x3F80_0000, 0x3F80),  // 1.0 exact
        (0x3F80_8000, 0x3F80),  // halfway, lower neighbour even: down
        (0x3F81_8000, 0x3F82),  // halfway, upper neighbour even: up
        (0x3F80_8001, 0x3F81),  // just above halfway: up
        (0x3F80_7FFF, 0x3F80),  // just below halfway: down
        (0x7F7F_FFFF, 0x7F80),  // largest float rounds to +infinity
        (0x7F7F_8000, 0x7F80),  // halfway below infinity, odd: up to infinity
        (0x8000_0000, 0x8000),  // -0
        (0x7F80_0000, 0x7F80),  // +infinity
        (0xFF80_0000, 0xFF80),  // -infinity
        (0x0000_0001, 0x0000),  // smallest subnormal rounds to zero
        (0x0000_8000, 0x0000),  // halfway to the smallest bf16 subnormal, even: down
        (0x0001_8000, 0x0002),  // halfway, odd: up
        (0x7FC0_0000, 0x7FC0),  // quiet NaN
        (0x7F80_0001, 0x7FC0),  // NaN whose payload lies in the dropped bits stays NaN, not infinity
        (0xFFC0_0001, 0xFFC0),  // negative NaN keeps its sign
    ]

    @Test(arguments: bfloat16Cases)
    func bfloat16Rounding(input: UInt32, expected: UInt16) {
        let bits = HalfPrecision.bfloat16Bits(Float(bitPattern: input))
        #expect(bits == expected, "0x\(String(input, radix: 16)) -> 0x\(String(bits, radix: 16))")
        #expect(HalfPrecision.float(bfloat16Bits: expected).bitPattern == UInt32(expected) << 16)
    }

    static let float16Cases: [(Float, UInt16)] = [
        (1.0, 0x3C00),
        (65504, 0x7BFF),  // largest half
        (65519, 0x7BFF),  // below the halfway point to 65536
        (65520, 0x7C00),  // halfway to 65536 (odd mantissa): infinity
        (1 + 0x1p-11, 0x3C00),  // halfway, even: down
        (1 + 3 * 0x1p-11, 0x3C02),  // halfway, odd: up
        (0x1p-24, 0x0001),  // smallest subnormal
        (0x1p-25, 0x0000),  // halfway to it: even, zero
        (3 * 0x1p-25, 0x0002),
        (-0.0, 0x8000),
    ]

    @Test(arguments: float16Cases)
    func float16Rounding(input: Float, expected: UInt16) {
        #expect(HalfPrecision.float16Bits(input) == expected)
    }

    /// The branch-free conversion equals the library's for all 65536 inputs (signalling NaNs
    /// come out quiet in both).
    @Test func float16ToFloatIsExactEverywhere() {
        var mismatches: [UInt16] = []
        for bits in UInt16.min...UInt16.max {
            let expected = Float(Float16(bitPattern: bits))
            let actual = HalfPrecision.float(float16Bits: bits)
            if actual.bitPattern != expected.bitPattern { mismatches.append(bits) }
        }
        #expect(mismatches.isEmpty, "\(mismatches.prefix(8).map { String($0, radix: 16) })")
    }

    @Test func float16KeepsNaN() {
        #expect(HalfPrecision.float(float16Bits: HalfPrecision.float16Bits(.nan)).isNaN)
        #expect(HalfPrecision.float(bfloat16Bits: HalfPrecision.bfloat16Bits(-.nan)).isNaN)
    }

    @Test func dtypeCodesRoundTrip() {
        for dtype in TensorDType.allCases { #expect(TensorDType(code: dtype.code) == dtype) }
        #expect(TensorDType(code: 0) == nil)
        #expect(TensorDType(code: 5) == nil)
    }
}
