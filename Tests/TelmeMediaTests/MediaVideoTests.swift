import Foundation
import Testing
@testable import TelmeMedia
import TelmeModels
import TelmeTensor

/// Video against `cv2.VideoCapture` (OpenCV 4.11, FFmpeg 5.1 inside) and transformers 4.27.2's
/// `VideoMAEImageProcessor`. Measured: every decoded BGR frame of every fixture clip is
/// bit-identical to OpenCV's (same libavcodec decoder, same libswscale call: SWS_BICUBIC at the
/// coded size), and the crops and tensors are bit-identical too, so the checks are exact.
@Suite("Media: video against OpenCV and VideoMAEImageProcessor")
struct MediaVideoTests {
    static let clips = ["speech_av.mp4", "short6.mp4", "video_only.mp4", "rotated.mp4", "odd_size.mp4", "truncated_data.mp4"]

    @Test("stream properties as OpenCV reports them", arguments: clips)
    func properties(name: String) throws {
        let reference = try #require(try MediaFixtures.load().video[name])
        let info = try MediaFile(path: try MediaFixtures.path(name)).videoInfo()
        #expect(info.declaredFrameCount == reference.declared)
        #expect(info.fps == reference.fps)
        #expect(info.width == reference.width && info.height == reference.height)
    }

    @Test("every frame decodes to OpenCV's BGR bytes", arguments: clips)
    func everyFrame(name: String) throws {
        let reference = try #require(try MediaFixtures.load().video[name])
        let frames = try MediaFile(path: try MediaFixtures.path(name)).allFrames()
        #expect(frames.count == reference.decoded)
        for (i, frame) in frames.enumerated() where i < reference.all_fnv.count {
            #expect(frame.number == i + 1)
            #expect(MediaFixtures.fnv(frame.bgr) == reference.all_fnv[i], "\(name) frame \(i + 1)")
        }
    }

    @Test("stored pixels: largest BGR difference from OpenCV is 0")
    func pixelDifference() throws {
        let reference = try #require(try MediaFixtures.load().video["speech_av.mp4"])
        let frames = try MediaFile(path: try MediaFixtures.path("speech_av.mp4")).frames(.wholeFile, count: 8)
        var largest = 0
        for (i, expected) in reference.frames.enumerated() {
            guard let stored = expected.sub4 else { continue }
            let mine = MediaFixtures.sub4(frames[i].bgr, width: frames[i].width, height: frames[i].height)
            largest = max(largest, MediaFixtures.maxAbsDifference(mine, try MediaFixtures.bytes(stored)))
        }
        #expect(largest == 0)
    }

    @Test("MELD rule picks OpenCV's frames; short clips repeat the last", arguments: clips)
    func meldSelection(name: String) throws {
        let reference = try #require(try MediaFixtures.load().video[name])
        let frames = try MediaFile(path: try MediaFixtures.path(name)).frames(.wholeFile, count: 8)
        // The authors keep fewer than 8 only for broken files (truncated_data: 5 of 8), where
        // their batch would fail; this engine repeats the last frame instead.
        #expect(frames.map(\.number) == FrameSelection.padded(reference.numbers, to: 8))
        for (i, expected) in reference.frames.enumerated() {
            #expect(MediaFixtures.fnv(frames[i].bgr) == expected.fnv, "\(name) selected frame \(expected.number)")
        }
    }

    /// truncated_data.mp4 has no crops of its own in the reference (the authors' batch fails on
    /// it): `truncatedClipCrops` checks it against video_only.mp4.
    @Test("resized crops equal PIL's through the processor", arguments: clips.filter { $0 != "truncated_data.mp4" })
    func crops(name: String) throws {
        let reference = try #require(try MediaFixtures.load().video[name])
        let crops = try #require(reference.crops, "\(name) has no crops in reference.json")
        let preprocessor = VideoPreprocessor(settings: .defaults(dataset: "meld"))
        let frames = try MediaFile(path: try MediaFixtures.path(name)).frames(.wholeFile, count: 8)
        for (i, crop) in crops.enumerated() {
            let mine = try preprocessor.resizedCrop(frames[i])
            #expect(mine.count == 224 * 224 * 3)
            #expect(MediaFixtures.fnv(mine) == crop.fnv, "\(name) crop \(i)")
            if let stored = crop.sub4 {
                #expect(MediaFixtures.maxAbsDifference(MediaFixtures.sub4(mine, width: 224, height: 224),
                                                       try MediaFixtures.bytes(stored)) == 0)
            }
        }
    }

    @Test("the [8, 3, 224, 224] tensor equals pixel_values")
    func tensor() throws {
        let reference = try #require(try MediaFixtures.load().video["speech_av.mp4"])
        let preprocessor = VideoPreprocessor(settings: .defaults(dataset: "meld"))
        let frames = try MediaFile(path: try MediaFixtures.path("speech_av.mp4")).frames(.wholeFile, count: 8)
        let tensor = try preprocessor(frames)
        #expect(tensor.shape == [8, 3, 224, 224])
        var sample: [Float] = []
        for f in 0..<8 { for c in 0..<3 { for y in stride(from: 0, to: 224, by: 8) { for x in stride(from: 0, to: 224, by: 8) {
            sample.append(tensor.data[((f * 3 + c) * 224 + y) * 224 + x])
        } } } }
        let expected = try MediaFixtures.floats(try #require(reference.tensor_sub8))
        #expect(sample == expected)
        let sum = tensor.data.reduce(0.0) { $0 + Double($1) }
        #expect(abs(sum - (reference.tensor_sum ?? .nan)) < 1e-6 * Double(tensor.count))
        // RGB order: the same bytes, channels 0 and 2 swapped before the per-channel mean/std.
        var rgbSettings = Settings.defaults(dataset: "meld")
        rgbSettings.channelOrder = .rgb
        let rgb = try VideoPreprocessor(settings: rgbSettings)([frames[0]])
        let crop = try preprocessor.resizedCrop(frames[0])
        let red = Float(Double(crop[2]) * (1.0 / 255.0))
        #expect(rgb.data[0] == (red - Float(0.485)) / Float(0.229))
        #expect(preprocessor.zeros() == Tensor(zeros: [8, 3, 224, 224]))
    }

    @Test("a display matrix is reported, not applied (as OpenCV 4.11)")
    func rotation() throws {
        let file = try MediaFile(path: try MediaFixtures.path("rotated.mp4"))
        #expect(try file.videoInfo().rotation == 270)
        let frame = try #require(try file.frames(.wholeFile, count: 1).first)
        #expect(frame.width == 160 && frame.height == 96)
    }

    @Test("IEMOCAP window rule keeps OpenCV's frames (sequential and after a seek)")
    func dialogueWindow() throws {
        let reference = try MediaFixtures.load()
        let file = try MediaFile(path: try MediaFixtures.path("dialogue.mp4"))
        // In file order, then reversed: seeks backwards and forwards give the same frames.
        for window in reference.window + reference.window.reversed() {
            let rule = FrameRule.dialogueWindow(start: window.start, end: window.end, margin: 1)
            if window.error != nil {
                #expect(throws: MediaError.self) { try file.frames(rule, count: 8) }
                continue
            }
            let frames = try file.frames(rule, count: 8)
            #expect(frames.map(\.number) == window.numbers, "window \(window.start)-\(window.end)")
            #expect(frames.map { MediaFixtures.fnv($0.bgr) } == window.fnv, "window \(window.start)-\(window.end)")
        }
    }

    @Test("range rule: the frames presented in [start, end), MELD rule within the range")
    func range() throws {
        let reference = try MediaFixtures.load()
        let file = try MediaFile(path: try MediaFixtures.path("dialogue.mp4"))
        let fps = 30000.0 / 1001.0
        for (start, end) in [(5.0, 6.0), (0.0, 0.5), (11.5, 13.0), (2.02, 2.1)] {
            // Frame k (0-based) is presented at k / fps.
            let inRange = (0..<360).filter { Double($0) / fps >= start && Double($0) / fps < end }
            let frames = try file.frames(.range(start: start, end: end), count: 8)
            let picks = FrameSelection.padded(
                FrameSelection.clipNumbers(declaredCount: inRange.count, count: 8).filter { $0 <= inRange.count }, to: 8)
            #expect(frames.map(\.number) == picks, "range \(start)-\(end)")
            #expect(frames.map { MediaFixtures.fnv($0.bgr) } == picks.map { reference.dialogue_all_fnv[inRange[$0 - 1]] },
                    "range \(start)-\(end)")
            for frame in frames { #expect(frame.time.map { $0 >= start && $0 < end } == true) }
        }
        #expect(throws: MediaError.self) { try file.frames(.range(start: 30, end: 31), count: 8) }
    }

    /// truncated_data.mp4 is video_only.mp4 cut after frame 15: the decoder gives those 15
    /// frames, the MELD rule picks 3, 6, 9, 12, 15 and repeats 15, and each crop is the crop of
    /// the same frame of the whole clip.
    @Test("a truncated clip's crops are the whole clip's, the last frame repeated")
    func truncatedClipCrops() throws {
        let whole = try #require(try MediaFixtures.load().video["video_only.mp4"]?.crops)
        let preprocessor = VideoPreprocessor(settings: .defaults(dataset: "meld"))
        let frames = try MediaFile(path: try MediaFixtures.path("truncated_data.mp4")).frames(.wholeFile, count: 8)
        #expect(frames.map(\.number) == [3, 6, 9, 12, 15, 15, 15, 15])
        let expected = (0..<8).map { whole[min($0, 4)].fnv }
        #expect(try frames.map { MediaFixtures.fnv(try preprocessor.resizedCrop($0)) } == expected)
    }

    @Test("timing: a 2 s 320x240 clip, audio and video to model inputs")
    func timing() throws {
        let path = try MediaFixtures.path("speech_av.mp4")
        let settings = Settings.defaults(dataset: "meld")
        let audioPreprocessor = AudioPreprocessor(settings: settings)
        let videoPreprocessor = VideoPreprocessor(settings: settings)
        var times: [Double] = []
        for _ in 0..<5 {
            let start = Date()
            let file = try MediaFile(path: path)
            let audio = audioPreprocessor(try file.audio(sampleRate: audioPreprocessor.sampleRate))
            let video = try videoPreprocessor(try file.frames(.wholeFile, count: settings.numFrames))
            times.append(Date().timeIntervalSince(start))
            #expect(audio.count == 44218 && video.shape == [8, 3, 224, 224])
        }
        print("media timing: speech_av.mp4 to model inputs, best of 5: \(Int((times.min() ?? 0) * 1000)) ms")
    }
}
