/// Element type of a tensor in a `.telme` file. Model tensors of one file all share one float
/// type; `u8` holds byte blobs (the tokenizer files).
public enum TensorDType: String, Codable, Sendable, CaseIterable {
    case f32, f16, bf16, u8

    /// The code stored in the tensor table (see `Schemas/telme-format.md`); 0 is never valid.
    public var code: UInt8 {
        switch self {
        case .f32: 1
        case .f16: 2
        case .bf16: 3
        case .u8: 4
        }
    }

    /// The type with this table code, or nil for an unknown code.
    public init?(code: UInt8) {
        switch code {
        case 1: self = .f32
        case 2: self = .f16
        case 3: self = .bf16
        case 4: self = .u8
        default: return nil
        }
    }

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32: 4
        case .f16, .bf16: 2
        case .u8: 1
        }
    }

    /// Whether model weights may be stored in this type.
    public var isFloat: Bool { self != .u8 }
}

/// Conversions between float32 and the 16-bit storage types, bit-exact and documented in
/// `Schemas/telme-format.md`.
public enum HalfPrecision {
    /// bfloat16 bits of `value`: the top 16 bits of the float32, rounded to nearest, ties to
    /// even. NaN stays NaN (quiet, sign kept); values past the bf16 range become infinity, as
    /// PyTorch's `tensor.to(torch.bfloat16)` does.
    @inline(__always)
    public static func bfloat16Bits(_ value: Float) -> UInt16 {
        let bits = value.bitPattern
        if value.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
        let roundingBias: UInt32 = 0x7FFF &+ ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ roundingBias) >> 16)
    }

    /// The float32 value of bfloat16 bits (exact).
    @inline(__always)
    public static func float(bfloat16Bits bits: UInt16) -> Float {
        Float(bitPattern: UInt32(bits) << 16)
    }

    /// IEEE binary16 bits of `value`, rounded to nearest, ties to even (overflow to infinity,
    /// NaN kept).
    @inline(__always)
    public static func float16Bits(_ value: Float) -> UInt16 {
        Float16(value).bitPattern
    }

    /// The float32 value of IEEE binary16 bits (exact; a signalling NaN becomes quiet, as the
    /// F16C instruction `vcvtph2ps` does).
    ///
    /// Branch-free integer arithmetic rather than `Float(Float16(bitPattern:))`, which is a
    /// library call per value on x86-64 without F16C; this form vectorises.
    @inline(__always)
    public static func float(float16Bits bits: UInt16) -> Float {
        let half = UInt32(bits)
        let magnitude = (half & 0x7FFF) << 13
        let exponent = magnitude & 0x0F80_0000
        // Normal numbers: rebias the exponent from 15 to 127.
        let normal = magnitude &+ 0x3800_0000
        // Infinity and NaN: exponent all ones, NaN made quiet.
        let special = normal &+ 0x3800_0000 | (magnitude & 0x007F_E000 != 0 ? 0x0040_0000 : 0)
        // Zero and subnormals: renormalise with an exact float subtraction.
        let small = (Float(bitPattern: normal &+ 0x0080_0000) - Float(bitPattern: 113 << 23)).bitPattern
        let result = exponent == 0x0F80_0000 ? special : (exponent == 0 ? small : normal)
        return Float(bitPattern: result | (half & 0x8000) << 16)
    }
}
