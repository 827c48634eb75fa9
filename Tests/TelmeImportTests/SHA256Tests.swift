import Foundation
import Testing
import TelmeImport
import TelmeTestSupport

@Suite struct SHA256Tests {
    private func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// FIPS 180-4 examples and the usual extra vectors.
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        ("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"),
        ("The quick brown fox jumps over the lazy dog",
         "d7a8fbb307d7809469ca9abcb0082e4f8d5651e46d3cdb762d02d0bf37c9e592"),
    ])
    func knownVectors(message: String, digest: String) {
        #expect(hex(SHA256.hash(Array(message.utf8))) == digest)
    }

    /// Every length around the padding boundaries, fed in uneven pieces, equals one-shot hashing.
    @Test func streamingEqualsOneShot() {
        let data = (0..<300).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) }
        for length in [55, 56, 57, 63, 64, 65, 119, 120, 128, 300] {
            var hasher = SHA256()
            var start = 0
            var piece = 1
            while start < length {
                let end = min(length, start + piece)
                hasher.update(data[start..<end])
                start = end
                piece = piece * 3 % 37 + 1
            }
            #expect(hasher.finalize() == SHA256.hash(Array(data[0..<length])), "length \(length)")
        }
    }

    @Test func millionAs() {
        var hasher = SHA256()
        let block = [UInt8](repeating: UInt8(ascii: "a"), count: 1000)
        for _ in 0..<1000 { hasher.update(block) }
        #expect(hasher.hexDigest() == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
    }

    /// The export fixtures' digests as Python's hashlib computed them.
    @Test func fileDigestsMatchHashlib() throws {
        let sums = try String(contentsOf: try SharedFixtures.url("export/SHA256SUMS"), encoding: .utf8)
        let lines = sums.split(separator: "\n")
        #expect(lines.count == 6)
        for line in lines {
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            let url = try SharedFixtures.url("export/\(parts[1])")
            #expect(try SHA256.hexDigest(ofFileAt: url) == String(parts[0]), "\(parts[1])")
        }
    }
}
