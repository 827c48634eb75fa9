import ArgumentParser
import Foundation
import Testing
@testable import TelmeCLI
import TelmeCorpus

/// `telme validate` on the hostile corpora (Tools/fixtures/hostile_media.sh), a clean
/// corpus, and a CSV naming media outside its root.
@Suite struct ValidateTests {
    static let hostile = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/hostile")

    /// The problems validate reports (as its --json prints them) and its exit status.
    func validate(_ arguments: [String]) async throws -> (problems: [[String: Any]], exit: Int32) {
        let command = try #require(try TelmeCommand.parseAsRoot(["validate"] + arguments) as? Validate)
        let report = try command.report()
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        let json = try #require(try JSONSerialization.jsonObject(with: encoder.encode(report)) as? [String: Any])
        return (try #require(json["problems"] as? [[String: Any]]), report.isClean ? 0 : 1)
    }

    /// `kind name:line d/u` of each problem, sorted, for whole-list comparisons.
    func summary(_ problems: [[String: Any]]) -> [String] {
        problems.map { p in
            let name = ((p["file"] as? String ?? "") as NSString).lastPathComponent
            let line = (p["line"] as? Int).map { ":\($0)" } ?? ""
            let place = (p["dialogue"] as? String).map { " \($0)/\(p["utterance"] as? Int ?? -1)" } ?? ""
            return "\(p["kind"] as? String ?? "?") \(name)\(line)\(place)"
        }.sorted()
    }

    @Test func meldCorpusProblemsAreNamed() async throws {
        let (problems, exit) = try await validate([Self.hostile.appendingPathComponent("meld/corpus.csv").path])
        #expect(exit == 1)
        #expect(summary(problems) == [
            "duplicate-id corpus.csv:12 2/4",
            "encoding corpus.csv:9",
            "missing-media dia2_utt5.mp4 2/5",
            "no-audio dia1_utt1.mp4 1/1",
            "no-video dia0_utt1.mp4 0/1",
            "no-video dia1_utt0.m4a 1/0",
            "no-video dia1_utt2.mkv 1/2",
            "time corpus.csv:3 0/1", "time corpus.csv:3 0/1",
            "time corpus.csv:4 0/2", "time corpus.csv:4 0/2",
            "time corpus.csv:5 1/0",
            "time corpus.csv:8 2/0",
            "unreadable-media dia2_utt2.mp4 2/2",
            "unreadable-media dia2_utt3.mp4 2/3",
            "duration dia2_utt0.mp4 2/0",
        ].sorted())
        let messages = problems.map { $0["message"] as? String ?? "" }
        #expect(messages.contains("start time -5.0 s is negative"))
        #expect(messages.contains("start time \"NaN\" is not a time"))
        #expect(messages.contains("ends (1.0 s) before it starts (5.0 s)"))
        #expect(messages.contains { $0.hasPrefix("lasts 36000.00 s, over 30 s") })
        #expect(messages.contains("the video stream has no frame"))
        #expect(messages.contains { $0.contains("utterance id 1 appears again (first at line 9)") })
    }

    @Test func episodesProblemsAreNamed() async throws {
        let (problems, exit) = try await validate([Self.hostile.appendingPathComponent("episodes").path])
        #expect(exit == 1)
        #expect(summary(problems) == [
            "duration long.mp4 long#1/0",
            "duration short.mp4 short#1/0",
            "duration short.mp4 short#2/0",
            "encoding radio.vtt:4",
            "encoding short.csv:8",
            "no-video radio.mp4 radio#0/0",
            "transcript short.csv:3", "transcript short.csv:4", "transcript short.csv:5", "transcript short.csv:8",
        ].sorted())
    }

    @Test func modelDecidesWhichMediaAreChecked() async throws {
        // A teacher-only model reads no media: only the transcript's problems remain.
        let (problems, _) = try await validate([Self.hostile.appendingPathComponent("meld/corpus.csv").path,
                                                "--model", AnnotateTests.model.path])
        #expect(Set(problems.map { $0["kind"] as? String ?? "" }) == ["time", "encoding", "duplicate-id"])
    }

    @Test func cleanCorpusExitsZero() async throws {
        let (problems, exit) = try await validate([AnnotateTests.fixtures.appendingPathComponent("media/corpus.csv").path,
                                                   "--media", AnnotateTests.fixtures.appendingPathComponent("media/clips").path])
        // The plain media fixture has its own damaged clips; a corpus of its good clips is clean.
        #expect(exit == 1 && !problems.isEmpty)
        let folder = try AnnotateTests.temporaryDirectory()
        let clips = AnnotateTests.fixtures.appendingPathComponent("media/clips")
        try FileManager.default.createDirectory(at: folder.appendingPathComponent("clips"), withIntermediateDirectories: true)
        for name in ["dia0_utt0.mp4", "dia0_utt1.mp4"] {
            try FileManager.default.copyItem(at: clips.appendingPathComponent(name),
                                             to: folder.appendingPathComponent("clips/\(name)"))
        }
        let csv = "Utterance,Speaker,Dialogue_ID,Utterance_ID,Video_Path\nHi.,Ana,0,0,clips/dia0_utt0.mp4\n"
            + "Hello.,Ben,0,1,clips/dia0_utt1.mp4\n"
        try csv.write(to: folder.appendingPathComponent("corpus.csv"), atomically: true, encoding: .utf8)
        let clean = try await validate([folder.appendingPathComponent("corpus.csv").path])
        #expect(clean.exit == 0)
        #expect(clean.problems.isEmpty)

        // The same clip named through "..": outside the corpus root.
        let inner = folder.appendingPathComponent("inner")
        try FileManager.default.createDirectory(at: inner, withIntermediateDirectories: true)
        try "Utterance,Speaker,Dialogue_ID,Utterance_ID,Video_Path\nHi.,Ana,0,0,../clips/dia0_utt0.mp4\n"
            .write(to: inner.appendingPathComponent("corpus.csv"), atomically: true, encoding: .utf8)
        let outside = try await validate([inner.appendingPathComponent("corpus.csv").path])
        #expect(outside.exit == 1)
        #expect(summary(outside.problems) == ["outside-root dia0_utt0.mp4 0/0"])
        #expect((outside.problems.first?["message"] as? String)?.contains("outside the corpus root") == true)
        let allowed = try await validate([inner.appendingPathComponent("corpus.csv").path, "--allow-outside-root"])
        #expect(allowed.exit == 0)
    }

    @Test func runExitsOneOnProblemsAndLinesNameThePlace() async throws {
        var command = try #require(try TelmeCommand.parseAsRoot(
            ["validate", Self.hostile.appendingPathComponent("meld/corpus.csv").path]) as? Validate)
        await #expect(throws: ExitCode(1)) { try await command.run() }
        let problem = ValidationProblem(kind: .time, file: "c.csv", line: 4, dialogue: "0", utterance: 2,
                                        message: "start time \"NaN\" is not a time")
        #expect(problem.description == "c.csv:4: dialogue 0 utterance 2: start time \"NaN\" is not a time")
        let media = ValidationProblem(kind: .noVideo, file: "clips/a.mp4", dialogue: "0", utterance: 1, transcriptLine: 3,
                                      message: "no video stream")
        #expect(media.description == "clips/a.mp4: dialogue 0 utterance 1 (transcript line 3): no video stream")
    }

    @Test func usageErrorsExitTwo() async throws {
        #expect(throws: (any Error).self) { _ = try TelmeCommand.parseAsRoot(["validate"]) }
        #expect(throws: (any Error).self) {
            _ = try TelmeCommand.parseAsRoot(["validate", "x.csv", "--layout", "nonsense"])
        }
        let code = TelmeCommand.exitCode(for: ValidationError("x"))
        #expect(code == .validationFailure, "run() maps usage errors to exit status 2")
    }
}
