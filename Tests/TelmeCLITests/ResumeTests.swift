import Foundation
import Testing

/// Resume and atomic output, on the real `telme` process: a run killed at exact points of
/// writing a unit (the `TELME_TEST_SIGNAL` hook, SIGKILL), or by a SIGKILL from outside, or
/// stopped by SIGTERM / SIGINT, is continued by the same command into the same bytes as an
/// uninterrupted run (the tiny full model over the media fixtures: 3 dialogues, 11 clips).
@Suite(.enabled(if: TelmeBinary.available, "needs the telme executable next to the tests (swift build --build-tests)"))
struct ResumeTests {
    static func arguments(_ out: URL, _ extra: [String] = []) -> [String] {
        ["annotate", "--model", AnnotateMediaTests.model.path, "--corpus", AnnotateMediaTests.corpus,
         "--media", AnnotateMediaTests.clips, "--out", out.path, "--format", "jsonl,csv,json"] + extra
    }

    /// An uninterrupted run (exit status 1: some fixtures are degraded on purpose).
    static func reference(_ extra: [String] = []) throws -> URL {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("reference")
        let result = try TelmeBinary.run(arguments(out, extra))
        #expect(result.status == 1 && !result.signaled, "\(result.stderr)")
        return out
    }

    /// The uninterrupted runs the tests compare with, made once (read only: copy to change).
    static let independent = Result(catching: { try reference(["--batch-semantics", "independent"]) })
    static let official = Result(catching: { try reference(["--batch-semantics", "official-batch4"]) })

    static func reference(semantics: String) throws -> URL {
        try (semantics == "official-batch4" ? official : independent).get()
    }

    /// A copy of the independent reference run, to continue or to refuse.
    static func copyOfReference() throws -> URL {
        let copy = try AnnotateTests.temporaryDirectory().appendingPathComponent("copy")
        try FileManager.default.copyItem(at: try independent.get(), to: copy)
        return copy
    }

    static func unitsDone(_ out: URL) -> Int {
        let text = (try? String(contentsOf: out.appendingPathComponent("units.jsonl"), encoding: .utf8)) ?? ""
        return text.split(separator: "\n").count
    }

    @Test(arguments: [
        ("independent", "1:partial:KILL"), ("independent", "1:before:KILL"), ("independent", "2:written:KILL"),
        ("independent", "3:committed:KILL"), ("official-batch4", "1:written:KILL"), ("official-batch4", "2:partial:KILL"),
        ("official-batch4", "3:committed:KILL"),
    ])
    func killedRunContinuesToTheSameBytes(semantics: String, hook: String) throws {
        let extra = ["--batch-semantics", semantics]
        let reference = try Self.reference(semantics: semantics)
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        let killed = try TelmeBinary.run(Self.arguments(out, extra), environment: ["TELME_TEST_SIGNAL": hook])
        #expect(killed.signaled && killed.status == SIGKILL, "\(killed.stderr)")
        let parts = hook.split(separator: ":")
        let n = Int(parts[0])!
        #expect(Self.unitsDone(out) == (parts[1] == "committed" ? n : n - 1), "units committed when killed")
        #expect(try TelmeBinary.runInfo(out)["state"] as? String == "running")

        let resumed = try TelmeBinary.run(Self.arguments(out, extra))
        #expect(resumed.status == 1 && !resumed.signaled, "\(resumed.stderr)")
        if Self.unitsDone(out) > 0, n > 1 || parts[1] == "committed" {
            #expect(resumed.stderr.contains("are already done"), "\(resumed.stderr)")
        }
        try TelmeBinary.expectSameOutputs(reference, out, "\(semantics), killed at \(hook)")
        let info = try TelmeBinary.runInfo(out), expected = try TelmeBinary.runInfo(reference)
        #expect(info["state"] as? String == "complete")
        #expect(info["counts"] as? [String: Int] == expected["counts"] as? [String: Int])
    }

    @Test func killFromOutsideWhileRunning() throws {
        let reference = try Self.reference(semantics: "independent")
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        let (process, errors) = try TelmeBinary.start(Self.arguments(out))
        // Kill it as soon as the first unit is committed (or when it ends first, on a fast machine).
        while process.isRunning, Self.unitsDone(out) < 1 { usleep(1000) }
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
        _ = TelmeBinary.finish(process, errors)
        let resumed = try TelmeBinary.run(Self.arguments(out))
        #expect(resumed.status == 1, "\(resumed.stderr)")
        try TelmeBinary.expectSameOutputs(reference, out, "killed from outside")
    }

    @Test(arguments: [("1:before:TERM", 143, "SIGTERM"), ("2:committed:INT", 130, "SIGINT")])
    func signalFinishesTheUnitAndStops(hook: String, status: Int32, name: String) throws {
        let reference = try Self.reference(semantics: "independent")
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        let stopped = try TelmeBinary.run(Self.arguments(out), environment: ["TELME_TEST_SIGNAL": hook])
        #expect(stopped.status == status && !stopped.signaled, "\(stopped.stderr)")
        #expect(stopped.stderr.contains("stopped by \(name)"), "\(stopped.stderr)")
        let info = try TelmeBinary.runInfo(out)
        #expect(info["state"] as? String == "interrupted")
        let done = Self.unitsDone(out)
        #expect(done >= Int(hook.prefix(1))! && done < 3, "the unit under way is finished, then the run stops")
        #expect(info["units_done"] as? Int == done)
        let resumed = try TelmeBinary.run(Self.arguments(out))
        #expect(resumed.status == 1, "\(resumed.stderr)")
        try TelmeBinary.expectSameOutputs(reference, out, "stopped by \(name)")
    }

    @Test func finishedRunIsNotRedone() throws {
        let out = try Self.copyOfReference()
        let before = try TelmeBinary.outputs(out)
        let again = try TelmeBinary.run(Self.arguments(out))
        #expect(again.status == 1)
        #expect(again.stderr.contains("all 3 units are already done"), "\(again.stderr)")
        #expect(try TelmeBinary.outputs(out) == before)
    }

    @Test func anotherRunIsRefusedUnlessOverwrite() throws {
        let out = try Self.copyOfReference()
        let before = try TelmeBinary.outputs(out)
        // Another setting.
        let refused = try TelmeBinary.run(Self.arguments(out, ["--speaker-numbering", "dialogue"]))
        #expect(refused.status == 2)
        #expect(refused.stderr.contains("speaker_numbering (\"official\" there, \"dialogue\" now)")
                || refused.stderr.contains("speaker_numbering (official there, dialogue now)"), "\(refused.stderr)")
        #expect(refused.stderr.contains("--overwrite"), "\(refused.stderr)")
        #expect(try TelmeBinary.outputs(out) == before, "a refused run changes nothing")
        // Another model.
        let model = try TelmeBinary.run(["annotate", "--model", AnnotateTests.model.path, "--corpus",
                                         AnnotateMediaTests.corpus, "--media", AnnotateMediaTests.clips,
                                         "--out", out.path, "--format", "jsonl,csv,json"])
        #expect(model.status == 2 && model.stderr.contains("the model (fingerprint"), "\(model.stderr)")
        // --overwrite starts again: the same bytes as a fresh run with that setting.
        let overwritten = try TelmeBinary.run(Self.arguments(out, ["--speaker-numbering", "dialogue", "--overwrite"]))
        #expect(overwritten.status == 1, "\(overwritten.stderr)")
        try TelmeBinary.expectSameOutputs(try Self.reference(["--speaker-numbering", "dialogue"]), out, "overwritten")
    }

    /// A requeue on a node with another core count continues (recording it); another backend
    /// or precision computes other numbers, so it is refused.
    @Test func otherThreadsContinueOtherBackendIsRefused() throws {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("out")
        let killed = try TelmeBinary.run(Self.arguments(out, ["--threads", "2", "--backend", "openblas"]),
                                         environment: ["TELME_TEST_SIGNAL": "2:committed:KILL"])
        #expect(killed.signaled, "\(killed.stderr)")
        let backend = try TelmeBinary.run(Self.arguments(out, ["--threads", "2", "--backend", "onednn"]))
        #expect(backend.status == 2 && backend.stderr.contains("--backend (openblas there, onednn now)"), "\(backend.stderr)")
        let precision = try TelmeBinary.run(Self.arguments(out, ["--threads", "2", "--precision", "int8"]))
        #expect(precision.status == 2 && precision.stderr.contains("--precision (f32 there, int8 now)"),
                "\(precision.stderr)")
        let resumed = try TelmeBinary.run(Self.arguments(out, ["--threads", "1", "--backend", "openblas"]))
        #expect(resumed.status == 1, "\(resumed.stderr)")
        #expect(resumed.stderr.contains("--threads 1 (before: 2)"), "\(resumed.stderr)")
        let notes = try TelmeBinary.runInfo(out)["notes"] as? [String] ?? []
        #expect(notes.count == 1 && notes[0].contains("units after the first 2"), "\(notes)")
        #expect(Self.unitsDone(out) == 3)
    }

    @Test func changedCorpusIsRefused() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let corpus = folder.appendingPathComponent("corpus.csv")
        try FileManager.default.copyItem(atPath: AnnotateMediaTests.corpus, toPath: corpus.path)
        let out = folder.appendingPathComponent("out")
        let arguments = ["annotate", "--model", AnnotateMediaTests.model.path, "--corpus", corpus.path,
                         "--media", AnnotateMediaTests.clips, "--out", out.path]
        #expect(try TelmeBinary.run(arguments).status == 1)
        let text = try String(contentsOf: corpus, encoding: .utf8)
        try text.replacingOccurrences(of: "Hello there.", with: "Hello here.").write(to: corpus, atomically: true, encoding: .utf8)
        #expect(try String(contentsOf: corpus, encoding: .utf8) != text, "the fixture's text changed")
        let refused = try TelmeBinary.run(arguments)
        #expect(refused.status == 2 && refused.stderr.contains("the corpus's content"), "\(refused.stderr)")
    }
}
