import Foundation
import Testing
@testable import TelmeMedia
import TelmeModels

/// Audio against `librosa.load(path)` + `Wav2Vec2FeatureExtractor(do_normalize=True)`.
///
/// Measured difference with this FFmpeg (5.1, libsoxr 0.1.3) and python-soxr 1.1.0: none — the
/// samples are bit-identical (same s16 step for mp4 as the ffmpeg CLI, same float32 mean of the
/// channels, same libsoxr HQ recipe on float32, same numpy float32 arithmetic for the
/// normalisation). So the comparisons are exact while the soxr engine is present. A build
/// without it falls back to swr's own resampler: measured against librosa, up to 1.26e-3 (full
/// scale 1.0; 16 kHz speech upsampled, energy near the old Nyquist) and 1.0e-3 at the first
/// sample of a 48 kHz clip (1.3e-5 elsewhere), hence `fallbackTolerance`.
@Suite("Media: audio against librosa")
struct MediaAudioTests {
    static let fallbackTolerance: Float = 2e-3
    static let librosaClips = ["speech_av.mp4", "speech16k.wav", "short6.mp4", "audio_only.mp4"]

    @Test("the FFmpeg build has the soxr resampler")
    func soxrAvailable() {
        #expect(SoxrResampling.isAvailable, "libswresample without soxr: audio differs from librosa (see fallbackTolerance)")
    }

    @Test("decoded, downmixed and resampled audio equals librosa.load", arguments: librosaClips)
    func matchesLibrosa(name: String) throws {
        let reference = try #require(try MediaFixtures.load().audio[name])
        let expected = try MediaFixtures.floats(try #require(reference.librosa))
        let audio = try MediaFile(path: try MediaFixtures.path(name)).audio(sampleRate: 22050)
        try #require(audio.count == expected.count)
        let difference = MediaFixtures.maxAbsDifference(audio, expected)
        if SoxrResampling.isAvailable {
            #expect(difference == 0, "\(name): max abs difference \(difference)")
        } else {
            #expect(difference <= Self.fallbackTolerance, "\(name): max abs difference \(difference)")
        }
    }

    @Test("without soxr, swr's own resampler stays within the fallback tolerance", arguments: librosaClips)
    func fallbackEngine(name: String) throws {
        let reference = try #require(try MediaFixtures.load().audio[name])
        let expected = try MediaFixtures.floats(try #require(reference.librosa))
        let file = try MediaFile(path: try MediaFixtures.path(name))
        let native = try file.audio(sampleRate: try file.audioFormat().sampleRate)
        let audio = try SoxrResampling.resample(native, from: try file.audioFormat().sampleRate, to: 22050,
                                                path: name, engine: .swr)
        try #require(audio.count == expected.count)
        let difference = MediaFixtures.maxAbsDifference(audio, expected)
        #expect(difference <= Self.fallbackTolerance, "\(name): max abs difference \(difference)")
    }

    @Test("model input (normalised, last 400000) equals the feature extractor's, bit for bit", arguments: librosaClips)
    func modelInput(name: String) throws {
        let reference = try #require(try MediaFixtures.load().audio[name])
        let preprocessor = AudioPreprocessor(settings: .defaults(dataset: "meld"))
        // The normalisation alone, on librosa's own samples.
        let librosa = try MediaFixtures.floats(try #require(reference.librosa))
        #expect(MediaFixtures.fnv(preprocessor(librosa)) == reference.input_fnv)
        // The whole path from the file.
        guard SoxrResampling.isAvailable else { return }
        let audio = try MediaFile(path: try MediaFixtures.path(name)).audio(sampleRate: preprocessor.sampleRate)
        let input = preprocessor(audio)
        #expect(MediaFixtures.fnv(input) == reference.input_fnv)
        #expect(Array(input.prefix(8)) == reference.input_head)
    }

    @Test("numpy's float32 sum, mean and var are reproduced bit for bit", arguments: librosaClips)
    func numpyStatistics(name: String) throws {
        let reference = try #require(try MediaFixtures.load().audio[name])
        let x = try MediaFixtures.floats(try #require(reference.librosa))
        let sum = AudioPreprocessor.numpySum(x)
        #expect(sum.bitPattern == reference.sum_bits)
        #expect(Float(Double(sum) / Double(x.count)).bitPattern == reference.mean_bits)
    }

    @Test("numpy pairwise summation: block and unroll boundaries")
    func pairwiseBoundaries() {
        // Values whose float32 sums depend on the order: the pairwise tree must be numpy's.
        for n in [0, 1, 7, 8, 9, 127, 128, 129, 255, 8191, 8192, 8193, 20_000] {
            let x = (0..<n).map { Float(sin(Double($0) * 12.9898) * 43758.5453).truncatingRemainder(dividingBy: 1) * 1e4 }
            let total = AudioPreprocessor.numpySum(x)
            let exact = x.reduce(0.0) { $0 + Double($1) }
            #expect(abs(Double(total) - exact) <= 1e-3 * max(1, abs(exact)), "n=\(n)")
        }
        #expect(AudioPreprocessor.normalize([]) == [])
        #expect(AudioPreprocessor.normalize([0.5, 0.5]) == [0, 0])
    }

    @Test("time ranges and other rates equal librosa.load(offset:, duration:, sr:)", arguments: ["speech_av.mp4", "speech16k.wav"])
    func slices(name: String) throws {
        let cases = try #require(try MediaFixtures.load().audio_slices[name])
        let file = try MediaFile(path: try MediaFixtures.path(name))
        // Out of order on purpose: later starts stream on, earlier ones reopen the file.
        for slice in cases.reversed() + cases {
            let end = slice.duration.map { slice.offset + $0 }
            if slice.samples == 0 {
                #expect(throws: MediaError.self) { try file.audio(sampleRate: slice.sr, start: slice.offset, end: end) }
                continue
            }
            let audio = try file.audio(sampleRate: slice.sr, start: slice.offset, end: end)
            #expect(audio.count == slice.samples, "\(name) sr \(slice.sr) offset \(slice.offset)")
            if SoxrResampling.isAvailable {
                #expect(MediaFixtures.fnv(audio) == slice.fnv, "\(name) sr \(slice.sr) offset \(slice.offset)")
            }
        }
    }

    @Test("the over-30-s rule measures the resampled length as librosa.get_duration")
    func durationRule() throws {
        let reference = try #require(try MediaFixtures.load().audio["long31.mp4"])
        let meld = AudioPreprocessor(settings: .defaults(dataset: "meld"))
        let audio = try MediaFile(path: try MediaFixtures.path("long31.mp4")).audio(sampleRate: meld.sampleRate)
        #expect(audio.count == reference.samples)
        #expect(reference.over30)
        #expect(meld.exceedsDurationLimit(sampleCount: audio.count))
        #expect(Array(audio.prefix(16)) == reference.head)
        #expect(meld.zeros() == [Float](repeating: 0, count: 1412))
        // 30 s exactly is not over; one sample more is.
        #expect(!meld.exceedsDurationLimit(sampleCount: 30 * 22050))
        #expect(meld.exceedsDurationLimit(sampleCount: 30 * 22050 + 1))
        #expect(!AudioPreprocessor(settings: .defaults(dataset: "iemocap")).exceedsDurationLimit(sampleCount: 10_000_000))
        // Only the last maxAudioSamples samples reach the model.
        let input = meld(audio)
        #expect(input.count == 400_000)
        #expect(input == Array(AudioPreprocessor.normalize(audio).suffix(400_000)))
    }

    @Test("librosa's output length: ceil(n * target / orig) in double")
    func outputLength() {
        #expect(SoxrResampling.outputLength(inputCount: 96256, from: 48000, to: 22050) == 44218)
        #expect(SoxrResampling.outputLength(inputCount: 16000, from: 16000, to: 22050) == 22050)
        #expect(SoxrResampling.outputLength(inputCount: 0, from: 48000, to: 22050) == 0)
    }
}
