import Foundation
import Testing
@testable import TelmeMedia

/// Fixtures made by `Tools/fixtures/media.py`: clips, and what the authors' Python
/// preprocessing (librosa, OpenCV, PIL via transformers 4.27.2) makes of them.
enum MediaFixtures {
    struct Reference: Decodable, Sendable {
        var versions: [String: String]
        var audio: [String: Audio]
        var video: [String: Video]
        var window: [WindowCase]
        var audio_slices: [String: [AudioSlice]]
        var dialogue_all_fnv: [String]
        var resize: [ResizeCase]
        var selection: Selection
    }

    struct Audio: Decodable, Sendable {
        var samples: Int
        var duration: Double
        var over30: Bool
        var sum_bits: UInt32
        var mean_bits: UInt32
        var var_bits: UInt32
        var input_fnv: String
        var input_head: [Float]
        var librosa: String?
        var head: [Float]?
    }

    /// `librosa.load(path, sr=sr, offset=offset, duration=duration)`.
    struct AudioSlice: Decodable, Sendable {
        var sr: Int
        var offset: Double
        var duration: Double?
        var samples: Int
        var fnv: String
    }

    struct Frame: Decodable, Sendable {
        var number: Int
        var width: Int
        var height: Int
        var fnv: String
        var sub4: String?
    }

    struct Crop: Decodable, Sendable {
        var fnv: String
        var sub4: String?
    }

    struct Video: Decodable, Sendable {
        var declared: Int
        var fps: Double
        var width: Int
        var height: Int
        var decoded: Int
        var all_fnv: [String]
        var numbers: [Int]
        var frames: [Frame]
        var crops: [Crop]?
        var tensor_sub8: String?
        var tensor_sum: Double?
    }

    struct WindowCase: Decodable, Sendable {
        var start: Double
        var end: Double
        var fps: Double
        var numbers: [Int]
        var error: String?
        var fnv: [String]
    }

    struct ResizeCase: Decodable, Sendable {
        var width: Int
        var height: Int
        var seed: UInt64
        var input_fnv: String
        var resized_width: Int
        var resized_height: Int
        var fnv: String
        var sub4: String
    }

    struct WindowRule: Decodable, Sendable {
        var fps: Double
        var start: Double
        var end: Double
        var decoded: Int
        var kept: [Int]
        var error: String?
    }

    struct Selection: Decodable, Sendable {
        /// `[declared, decoded, kept]` rows.
        var meld: [[MeldValue]]
        var window: [WindowRule]
    }

    enum MeldValue: Decodable, Sendable {
        case number(Int)
        case list([Int])
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let n = try? container.decode(Int.self) { self = .number(n) } else { self = .list(try container.decode([Int].self)) }
        }
        var number: Int? { if case let .number(n) = self { n } else { nil } }
        var list: [Int]? { if case let .list(l) = self { l } else { nil } }
    }

    static let directory: URL? = Bundle.module.url(forResource: "Fixtures/media", withExtension: nil)

    static func path(_ name: String) throws -> String {
        try #require(directory, "Fixtures/media missing from the test bundle").appendingPathComponent(name).path
    }

    static let reference: Reference? = {
        guard let url = directory?.appendingPathComponent("reference.json"),
              let data = try? Data(contentsOf: url) else { return nil }
        return try? JSONDecoder().decode(Reference.self, from: data)
    }()

    static func load() throws -> Reference {
        try #require(reference, "Fixtures/media/reference.json missing or unreadable")
    }

    static func bytes(_ name: String) throws -> [UInt8] {
        [UInt8](try Data(contentsOf: URL(fileURLWithPath: try path(name))))
    }

    /// Little-endian float32 array.
    static func floats(_ name: String) throws -> [Float] {
        let raw = try bytes(name)
        return stride(from: 0, to: raw.count - 3, by: 4).map { i in
            Float(bitPattern: UInt32(raw[i]) | UInt32(raw[i + 1]) << 8 | UInt32(raw[i + 2]) << 16 | UInt32(raw[i + 3]) << 24)
        }
    }

    /// FNV-1a 64 of the bytes, as 16 hex digits (the fixture script's hash).
    static func fnv(_ bytes: [UInt8]) -> String {
        var h: UInt64 = 0xcbf29ce484222325
        for b in bytes { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        let hex = String(h, radix: 16)
        return String(repeating: "0", count: 16 - hex.count) + hex
    }

    static func fnv(_ floats: [Float]) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(floats.count * 4)
        for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { bytes.append(contentsOf: $0) } }
        return fnv(bytes)
    }

    /// Every 4th row and column of a packed 3-channel image.
    static func sub4(_ pixels: [UInt8], width: Int, height: Int) -> [UInt8] {
        var out: [UInt8] = []
        for y in stride(from: 0, to: height, by: 4) {
            for x in stride(from: 0, to: width, by: 4) {
                out.append(contentsOf: pixels[((y * width + x) * 3)..<((y * width + x) * 3 + 3)])
            }
        }
        return out
    }

    /// The fixture script's synthetic picture (gradients, 16-pixel checks, hashed noise).
    static func synthetic(width: Int, height: Int, seed: UInt64) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: width * height * 3)
        for y in 0..<height {
            for x in 0..<width {
                for c in 0..<3 {
                    let i = UInt64((y * width + x) * 3 + c)
                    var h = (i &* 2654435761 &+ seed) & 0xFFFF_FFFF
                    h ^= h >> 15
                    h = (h &* 2246822519) & 0xFFFF_FFFF
                    h ^= h >> 13
                    let noise = Int(h >> 24)
                    var base = ((x * 255) / max(width - 1, 1) + (y * 131) / max(height - 1, 1) + c * 85) & 255
                    if (x / 16 + y / 16) % 2 != 0 { base = 255 - base }
                    out[(y * width + x) * 3 + c] = UInt8((base * 3 + noise) / 4)
                }
            }
        }
        return out
    }

    static func maxAbsDifference(_ a: [UInt8], _ b: [UInt8]) -> Int {
        zip(a, b).map { abs(Int($0) - Int($1)) }.max() ?? 0
    }

    static func maxAbsDifference(_ a: [Float], _ b: [Float]) -> Float {
        zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }
}
