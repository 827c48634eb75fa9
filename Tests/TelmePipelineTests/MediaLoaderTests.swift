import Foundation
import Testing
import TelmeCorpus
@testable import TelmePipeline

@Suite struct MediaLoaderTests {
    /// A file outside the corpus root is refused by the locator: the loader reports it as an
    /// error of both modalities and never opens it.
    @Test func refusedMediaAreErrorsAndNotOpened() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("telme-paths-\(UUID().uuidString)")
        let root = folder.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: folder) }
        try Data("x".utf8).write(to: folder.appendingPathComponent("secret.mp4"))
        let locator = MediaLocator(layout: .meld, root: root.path, videoMarginSeconds: 0)
        let loader = MediaLoader(settings: .defaults(dataset: "meld"), imageSize: 224, needAudio: true, needVideo: true,
                                 minimumAudioSamples: 0)
        let u = Utterance(dialogue: "1", index: 0, utteranceID: "0", speaker: "A", text: "t", videoPath: "../secret.mp4",
                          line: 7)
        let inputs = loader.load(locator.source(for: u), zeroMissing: false)
        #expect(inputs.audioStatus == .error && inputs.videoStatus == .error)
        #expect(inputs.notes.count == 1 && inputs.notes[0].hasPrefix("audio and video: Video_Path \"../secret.mp4\""),
                "\(inputs.notes)")
    }
}
