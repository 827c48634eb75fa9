import Testing
@testable import TelmeMedia
import TelmeModels

/// PIL's bilinear resize (Pillow 13 `ImagingResample`, as transformers calls it) on pictures
/// both sides compute from integers, so the resize is isolated from decoding.
@Suite("Media: resize against PIL")
struct MediaResizeTests {
    @Test("shorter side to 224 and centre crop equal PIL's output bit for bit",
          arguments: (try? MediaFixtures.load().resize) ?? [])
    func matchesPIL(_ c: MediaFixtures.ResizeCase) throws {
        let pixels = MediaFixtures.synthetic(width: c.width, height: c.height, seed: c.seed)
        try #require(MediaFixtures.fnv(pixels) == c.input_fnv, "synthetic picture differs from the script's")
        let preprocessor = VideoPreprocessor(settings: .defaults(dataset: "meld"))
        let size = preprocessor.resizedSize(width: c.width, height: c.height)
        #expect(size.width == c.resized_width && size.height == c.resized_height)
        let crop = try preprocessor.resizedCrop(VideoFrame(width: c.width, height: c.height, bgr: pixels, number: 1))
        let largest = MediaFixtures.maxAbsDifference(MediaFixtures.sub4(crop, width: 224, height: 224),
                                                     try MediaFixtures.bytes(c.sub4))
        #expect(largest == 0, "\(c.width)x\(c.height): largest difference \(largest)")
        #expect(MediaFixtures.fnv(crop) == c.fnv, "\(c.width)x\(c.height)")
    }

    @Test("fixed-point coefficients of each output sum to 1 within rounding")
    func coefficientSums() {
        for (inSize, outSize) in [(240, 224), (720, 224), (1080, 224), (120, 224), (61, 224), (3, 7), (1000, 1)] {
            let k = PILBilinear.coefficients(inSize: inSize, outSize: outSize)
            for i in 0..<outSize {
                let sum = (0..<k.count[i]).reduce(0) { $0 + Int(k.weights[i * k.taps + $1]) }
                #expect(abs(sum - (1 << 22)) <= k.count[i], "\(inSize)->\(outSize) output \(i)")
                #expect(k.first[i] >= 0 && k.first[i] + k.count[i] <= inSize)
            }
        }
    }

    @Test("degenerate frames: 1x1 upscales, empty or inconsistent frames throw")
    func degenerate() throws {
        let preprocessor = VideoPreprocessor(settings: .defaults(dataset: "meld"))
        let one = try preprocessor.resizedCrop(VideoFrame(width: 1, height: 1, bgr: [10, 20, 30], number: 1))
        #expect(one.count == 224 * 224 * 3 && one[0] == 10 && one[1] == 20 && one[2] == 30)
        #expect(throws: MediaError.self) { try preprocessor.resizedCrop(VideoFrame(width: 0, height: 5, bgr: [], number: 1)) }
        #expect(throws: MediaError.self) { try preprocessor.resizedCrop(VideoFrame(width: 2, height: 2, bgr: [1, 2, 3], number: 1)) }
    }
}
