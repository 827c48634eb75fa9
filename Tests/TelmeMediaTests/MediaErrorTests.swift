import Foundation
import Testing
@testable import TelmeMedia

/// Broken inputs give one-line errors naming the file and what failed; nothing traps.
@Suite("Media: broken inputs")
struct MediaErrorTests {
    static func error(_ body: () throws -> Void) -> MediaError? {
        do { try body() } catch let error as MediaError { return error } catch { return nil }
        return nil
    }

    static func check(_ error: MediaError?, kind: MediaError.Kind, file: String, mentions: String? = nil,
                      sourceLocation: SourceLocation = #_sourceLocation) {
        guard let error else {
            Issue.record("no MediaError for \(file)", sourceLocation: sourceLocation)
            return
        }
        #expect(error.kind == kind, "\(error)", sourceLocation: sourceLocation)
        #expect(error.description.hasSuffix(error.detail), sourceLocation: sourceLocation)
        #expect(error.description.contains(file), "\(error)", sourceLocation: sourceLocation)
        #expect(!error.description.contains("\n"), sourceLocation: sourceLocation)
        if let mentions { #expect(error.description.contains(mentions), "\(error)", sourceLocation: sourceLocation) }
    }

    @Test("files that cannot be opened", arguments: [
        ("zero.mp4", "avformat_open_input"), ("garbage.mp4", "avformat_open_input"),
        ("truncated_moov.mp4", "avformat_open_input"), ("no-such-file.mp4", "No such file"),
    ])
    func unopenable(name: String, mentions: String) throws {
        let path = try MediaFixtures.path(name)
        Self.check(Self.error { _ = try MediaFile(path: path) }, kind: .open, file: name, mentions: mentions)
    }

    @Test("a clip without audio: video works, audio says so")
    func videoOnly() throws {
        let file = try MediaFile(path: try MediaFixtures.path("video_only.mp4"))
        #expect(file.hasVideo && !file.hasAudio)
        Self.check(Self.error { _ = try file.audio(sampleRate: 22050) }, kind: .noAudioStream, file: "video_only.mp4")
        #expect(try file.frames(.wholeFile, count: 8).count == 8)
    }

    @Test("a file without video: audio works, video says so")
    func audioOnly() throws {
        let file = try MediaFile(path: try MediaFixtures.path("audio_only.mp4"))
        #expect(file.hasAudio && !file.hasVideo)
        #expect(try !file.audio(sampleRate: 22050).isEmpty)
        Self.check(Self.error { _ = try file.frames(.wholeFile, count: 8) }, kind: .noVideoStream, file: "audio_only.mp4")
        Self.check(Self.error { _ = try file.videoInfo() }, kind: .noVideoStream, file: "audio_only.mp4")
        let wav = try MediaFile(path: try MediaFixtures.path("speech16k.wav"))
        Self.check(Self.error { _ = try wav.frames(.dialogueWindow(start: 0, end: 1, margin: 1), count: 8) },
                   kind: .noVideoStream, file: "speech16k.wav")
    }

    @Test("a truncated clip decodes what is there")
    func truncatedData() throws {
        let file = try MediaFile(path: try MediaFixtures.path("truncated_data.mp4"))
        let frames = try file.frames(.wholeFile, count: 8)
        #expect(frames.count == 8)
        #expect(frames.last?.number == 15)
    }

    @Test("requests that make no sense are refused, absurd times do not trap")
    func badRequests() throws {
        let name = "speech_av.mp4"
        let file = try MediaFile(path: try MediaFixtures.path(name))
        Self.check(Self.error { _ = try file.frames(.wholeFile, count: 0) }, kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.audio(sampleRate: 22050, start: -1) }, kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.audio(sampleRate: 22050, start: 1, end: 0.5) }, kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.audio(sampleRate: 22050, start: .nan) }, kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.audio(sampleRate: 0) }, kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.audio(sampleRate: 22050, start: 1e300, end: 2e300) }, kind: .empty, file: name)
        Self.check(Self.error { _ = try file.audio(sampleRate: 22050, start: 50, end: 60) }, kind: .empty, file: name)
        Self.check(Self.error { _ = try file.frames(.range(start: 2, end: 1), count: 8) }, kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.frames(.range(start: 1e300, end: .infinity), count: 8) }, kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.frames(.range(start: 1e18, end: 2e18), count: 8) }, kind: .empty, file: name)
        Self.check(Self.error { _ = try file.frames(.dialogueWindow(start: .nan, end: 1, margin: 1), count: 8) },
                   kind: .invalidRequest, file: name)
        Self.check(Self.error { _ = try file.frames(.dialogueWindow(start: 1e15, end: 1e15 + 5, margin: 1), count: 8) },
                   kind: .empty, file: name)
        // The file still works after all that.
        #expect(try file.frames(.wholeFile, count: 8).count == 8)
        #expect(try file.audio(sampleRate: 22050).count == 44218)
    }
}
