import Foundation
import Testing
@testable import TelmeCorpus

/// Media paths from a corpus stay under the corpus root (symbolic links and `..` resolved
/// first).
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
}

@Suite struct MediaLocatorTests {
    @Test(arguments: [("Samples/corpus", "./dataset/a.mp4", "Samples/corpus/dataset/a.mp4"),
                      ("/data/", "clips//b.wav", "/data/clips/b.wav"), (".", "c.mp4", "c.mp4"),
                      ("root", "../up.mp4", "root/../up.mp4")])
    func joinKeepsPathsAsGiven(folder: String, path: String, joined: String) {
        #expect(MediaLocator.join(folder, path) == joined)
    }

    @Test func meldClipsComeFromTheMediaFolder() {
        let locator = MediaLocator(layout: .meld, root: "corpus", clipFolder: "clips", videoMarginSeconds: 0)
        let u = Utterance(dialogue: "3", index: 1, utteranceID: "2", speaker: "A", text: "t", videoPath: "x.mp4", line: 2)
        #expect(locator.source(for: u)?.videoPath == "clips/dia3_utt2.mp4")
        let fromCSV = MediaLocator(layout: .meld, root: "corpus", videoMarginSeconds: 0)
        #expect(fromCSV.source(for: u)?.audioPath == "corpus/x.mp4")
    }

    @Test func iemocapTakesTheWavAndAWindowOfTheDialogueVideo() {
        let locator = MediaLocator(layout: .iemocap, root: "/r", videoMarginSeconds: 1)
        let u = Utterance(dialogue: "d", index: 0, speaker: "s", text: "t", startTime: "2.5", endTime: "4",
                          videoPath: "./v/d.avi", wavPath: "./w/u.wav", line: 2)
        let source = locator.source(for: u)
        #expect(source?.audioPath == "/r/w/u.wav")
        #expect(source?.videoPath == "/r/v/d.avi")
        #expect(source?.frameRule == .dialogueWindow(start: 2.5, end: 4, margin: 1))
    }
}
