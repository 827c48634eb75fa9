import Foundation

/// XXH64 (xxHash, 64-bit variant, seed 0 unless given): the checksum of every `.telme`
/// header and tensor.
///
/// Chosen because it is a published, widely implemented hash (so another reader can check a
/// file with any xxHash library), and because its four independent 64-bit lanes run at several
/// GB/s in plain Swift without SIMD extensions, which keeps start-up verification of a
/// paper-size model well under a second. Reference: https://github.com/Cyan4973/xxHash
/// (`doc/xxhash_spec.md`).
public enum XXH64 {
    private static let prime1: UInt64 = 0x9E37_79B1_85EB_CA87
    private static let prime2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
    private static let prime3: UInt64 = 0x1656_67B1_9E37_79F9
    private static let prime4: UInt64 = 0x85EB_CA77_C2B2_AE63
    private static let prime5: UInt64 = 0x27D4_EB2F_1656_67C5

    @inline(__always)
    private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 { (x << r) | (x >> (64 &- r)) }

    @inline(__always)
    private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
        rotl(acc &+ input &* prime2, 31) &* prime1
    }

    @inline(__always)
    private static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
        (acc ^ round(0, value)) &* prime1 &+ prime4
    }

    @inline(__always)
    private static func read64(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }

    @inline(__always)
    private static func read32(_ base: UnsafeRawPointer, _ offset: Int) -> UInt32 {
        UInt32(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
    }

    /// The XXH64 digest of `bytes`.
    public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
        let length = bytes.count
        guard let base = bytes.baseAddress, length > 0 else { return finish(seed &+ prime5, length: 0) }
        var position = 0
        var h: UInt64
        if length >= 32 {
            var v1 = seed &+ prime1 &+ prime2
            var v2 = seed &+ prime2
            var v3 = seed
            var v4 = seed &- prime1
            let limit = length - 32
            while position <= limit {
                v1 = round(v1, read64(base, position))
                v2 = round(v2, read64(base, position &+ 8))
                v3 = round(v3, read64(base, position &+ 16))
                v4 = round(v4, read64(base, position &+ 24))
                position &+= 32
            }
            h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
            h = merge(h, v1)
            h = merge(h, v2)
            h = merge(h, v3)
            h = merge(h, v4)
        } else {
            h = seed &+ prime5
        }
        h &+= UInt64(length)
        while position + 8 <= length {
            h ^= round(0, read64(base, position))
            h = rotl(h, 27) &* prime1 &+ prime4
            position &+= 8
        }
        if position + 4 <= length {
            h ^= UInt64(read32(base, position)) &* prime1
            h = rotl(h, 23) &* prime2 &+ prime3
            position &+= 4
        }
        while position < length {
            h ^= UInt64(base.load(fromByteOffset: position, as: UInt8.self)) &* prime5
            h = rotl(h, 11) &* prime1
            position &+= 1
        }
        return avalanche(h)
    }

    /// The XXH64 digest of `data`.
    public static func hash(_ data: some ContiguousBytes, seed: UInt64 = 0) -> UInt64 {
        data.withUnsafeBytes { hash($0, seed: seed) }
    }

    private static func finish(_ h: UInt64, length: Int) -> UInt64 {
        avalanche(h &+ UInt64(length))
    }

    @inline(__always)
    private static func avalanche(_ value: UInt64) -> UInt64 {
        var h = value
        h ^= h >> 33
        h &*= prime2
        h ^= h >> 29
        h &*= prime3
        h ^= h >> 32
        return h
    }
}
