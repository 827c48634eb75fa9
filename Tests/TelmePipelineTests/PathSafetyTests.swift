import Foundation
import Testing
@testable import TelmePipeline

/// Media paths from a corpus stay under the corpus root (symbolic links and `..` resolved
/// first), and `json` document names stay inside `json/`.
@Suite struct PathSafetyTests {
    /// root/in.mp4, root/sub/, root/out-link.mp4 -> ../secret.mp4, root/in-link.mp4 -> in.mp4, secret.mp4 beside root.
    static func layout() throws -> (folder: URL, root: URL) {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("telme-paths-\(UUID().uuidString)")
        let root = folder.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
        for file in [root.appendingPathComponent("in.mp4"), folder.appendingPathComponent("secret.mp4")] {
            try Data("x".utf8).write(to: file)
        }
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("out-link.mp4").path,
                                                   withDestinationPath: "../secret.mp4")
        try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("in-link.mp4").path,
                                                   withDestinationPath: "in.mp4")
        try FileManager.default.createSymbolicLink(atPath: folder.appendingPathComponent("root-link").path,
                                                   withDestinationPath: "root")
        return (folder, root)
    }

    static func utterance(video: String, dialogue: String = "1") -> Utterance {
        Utterance(dialogue: dialogue, index: 0, utteranceID: "0", speaker: "A", text: "t", videoPath: video, line: 7)
    }

    @Test(arguments: [
        ("in.mp4", true), ("sub/../in.mp4", true), ("./sub/./../in.mp4", true), ("in-link.mp4", true),
        ("not-there.mp4", true), ("../secret.mp4", false), ("sub/../../secret.mp4", false), ("out-link.mp4", false),
        ("/etc/passwd", false), ("../root/in.mp4", true), ("../root-link/in.mp4", true), ("..", false),
    ])
    func csvPathsStayUnderTheRoot(path: String, inside: Bool) throws {
        let (_, root) = try Self.layout()
        let locator = MediaLocator(layout: .meld, root: root.path, videoMarginSeconds: 0)
        let source = try #require(locator.source(for: Self.utterance(video: path)))
        if inside {
            #expect(source.videoRefused == nil && source.audioRefused == nil, "\(path): \(source.videoRefused ?? "")")
        } else {
            let message = try #require(source.videoRefused, "\(path) must be refused")
            #expect(message.contains("Video_Path \"\(path)\" (line 7)"), "\(message)")
            #expect(message.contains("outside the corpus root \(MediaLocator.resolved(root.path))"), "\(message)")
            #expect(source.audioRefused == message)
        }
        let allowed = MediaLocator(layout: .meld, root: root.path, videoMarginSeconds: 0, allowOutsideRoot: true)
        #expect(allowed.source(for: Self.utterance(video: path))?.videoRefused == nil)
    }

    @Test func absolutePathsInsideAndARootThroughALink() throws {
        let (folder, root) = try Self.layout()
        let inside = MediaLocator(layout: .meld, root: root.path, videoMarginSeconds: 0)
        #expect(inside.source(for: Self.utterance(video: root.path + "/in.mp4"))?.videoRefused == nil)
        let linked = MediaLocator(layout: .meld, root: folder.path + "/root-link", videoMarginSeconds: 0)
        #expect(linked.source(for: Self.utterance(video: "in.mp4"))?.videoRefused == nil)
        #expect(linked.source(for: Self.utterance(video: "../secret.mp4"))?.videoRefused != nil)
    }

    @Test func clipNamesFromDialogueIdsStayInTheClipFolder() throws {
        let (_, root) = try Self.layout()
        let locator = MediaLocator(layout: .meld, root: "/", clipFolder: root.appendingPathComponent("sub").path,
                                   videoMarginSeconds: 0)
        #expect(locator.source(for: Self.utterance(video: "", dialogue: "1"))?.videoRefused == nil)
        let escaping = locator.source(for: Self.utterance(video: "", dialogue: "/../../x"))
        #expect(escaping?.videoRefused?.contains("clip \"") == true, "\(escaping?.videoRefused ?? "accepted")")
    }

    @Test func iemocapRefusesEachFileOnItsOwn() throws {
        let (_, root) = try Self.layout()
        let locator = MediaLocator(layout: .iemocap, root: root.path, videoMarginSeconds: 1)
        let u = Utterance(dialogue: "d", index: 0, speaker: "s", text: "t", startTime: "1", endTime: "2",
                          videoPath: "in.mp4", wavPath: "../secret.mp4", line: 3)
        let source = try #require(locator.source(for: u))
        #expect(source.audioRefused?.contains("Wav_Path \"../secret.mp4\" (line 3)") == true)
        #expect(source.videoRefused == nil)
    }

    @Test func refusedMediaAreErrorsAndNotOpened() throws {
        let (_, root) = try Self.layout()
        let locator = MediaLocator(layout: .meld, root: root.path, videoMarginSeconds: 0)
        let loader = MediaLoader(settings: .defaults(dataset: "meld"), imageSize: 224, needAudio: true, needVideo: true,
                                 minimumAudioSamples: 0)
        let inputs = loader.load(locator.source(for: Self.utterance(video: "../secret.mp4")), zeroMissing: false)
        #expect(inputs.audioStatus == .error && inputs.videoStatus == .error)
        #expect(inputs.notes.count == 1 && inputs.notes[0].hasPrefix("audio and video: Video_Path \"../secret.mp4\""),
                "\(inputs.notes)")
    }

    @Test(arguments: [
        ["../x", "/etc/passwd", "a\u{0}b", ".", "..", "", "x/../../y", "C:\\\\z", String(repeating: "é", count: 300)],
        ["A", "a", "a/b", "a_b", "a_b", "a_b~2"],
    ])
    func documentNamesAreSafeAndDistinct(groups: [String]) {
        let names = RunPlan.fileNames(for: groups)
        #expect(names.count == groups.count)
        #expect(Set(names.map { $0.lowercased() }).count == names.count, "\(names)")
        for name in names {
            #expect(!name.contains("/") && !name.contains("\\") && !name.contains("\u{0}") && !name.hasPrefix("."), "\(name)")
            #expect(name.utf8.count <= 210 && name.hasSuffix(".json"), "\(name)")
        }
    }
}
