import ArgumentParser
import Foundation
import Testing

/// `telme annotate` with hostile paths: media named outside the corpus root are refused
/// utterance by utterance (the run goes on), and dialogue ids never put a file outside --out.
@Suite struct AnnotatePathsTests {
    /// folder/root/{corpus.csv, clips/dia0_utt0.mp4}, folder/secret.mp4 (a real clip, outside).
    static func corpus() throws -> (folder: URL, csv: URL) {
        let folder = try AnnotateTests.temporaryDirectory()
        let root = folder.appendingPathComponent("root")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("clips"), withIntermediateDirectories: true)
        let clip = URL(fileURLWithPath: AnnotateMediaTests.clips).appendingPathComponent("dia0_utt0.mp4")
        try FileManager.default.copyItem(at: clip, to: root.appendingPathComponent("clips/dia0_utt0.mp4"))
        try FileManager.default.copyItem(at: clip, to: folder.appendingPathComponent("secret.mp4"))
        let csv = root.appendingPathComponent("corpus.csv")
        try """
            Utterance,Speaker,Dialogue_ID,Utterance_ID,Video_Path
            Inside.,Ana,0,0,clips/dia0_utt0.mp4
            Up and out.,Ben,0,1,../secret.mp4
            Absolute.,Ana,0,2,\(folder.path)/secret.mp4
            Back in.,Ben,0,3,clips/../clips/dia0_utt0.mp4

            """.write(to: csv, atomically: true, encoding: .utf8)
        return (folder, csv)
    }

    func run(_ arguments: [String]) async throws -> [[String: Any]] {
        do { try await AnnotateTests.telme(arguments) } catch let code as ExitCode where code.rawValue == 1 {}
        let out = URL(fileURLWithPath: arguments[arguments.firstIndex(of: "--out")! + 1])
        return try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func mediaOutsideTheRootAreRefusedAndTheRunGoesOn() async throws {
        let (folder, csv) = try Self.corpus()
        let arguments = ["annotate", "--model", AnnotateMediaTests.model.path, "--corpus", csv.path]
        let records = try await run(arguments + ["--out", folder.appendingPathComponent("out").path])
        #expect(records.count == 4)
        let statuses = records.map { [$0["audio_status"], $0["video_status"], $0["status"]].map { $0 as? String } }
        #expect(statuses == [["ok", "ok", "ok"], ["error", "error", "degraded"], ["error", "error", "degraded"],
                             ["ok", "ok", "ok"]])
        let message = records[1]["message"] as? String ?? ""
        #expect(message.contains("Video_Path \"../secret.mp4\" (line 3)") && message.contains("--allow-outside-root"),
                "\(message)")
        #expect((records[2]["message"] as? String)?.contains("(line 4)") == true)
        let allowed = try await run(arguments + ["--out", folder.appendingPathComponent("allowed").path,
                                                 "--allow-outside-root"])
        #expect(allowed.allSatisfy { $0["status"] as? String == "ok" })
    }

    @Test func dialogueIdsNeverLeaveTheOutputFolder() async throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let ids = ["../x", "/etc/passwd", "a\u{0}b", ".", "..", "../../../../tmp/telme-escape", "A", "a"]
        var text = "Utterance,Speaker,Dialogue_ID,Utterance_ID\n"
        for id in ids { text += "Hello.,Ana,\"\(id)\",0\n" }
        let csv = folder.appendingPathComponent("corpus.csv")
        try text.write(to: csv, atomically: true, encoding: .utf8)
        let out = folder.appendingPathComponent("out")
        try await AnnotateTests.telme(["annotate", "--model", AnnotateTests.model.path, "--corpus", csv.path,
                                       "--out", out.path, "--format", "json,jsonl"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() == ["corpus.csv", "out"])
        #expect(try FileManager.default.contentsOfDirectory(atPath: out.path).sorted()
                == ["annotations.jsonl", "json", "run.json", "units.jsonl"])
        let documents = try FileManager.default.contentsOfDirectory(atPath: out.appendingPathComponent("json").path)
        #expect(documents.count == ids.count, "\(documents)")
        #expect(!FileManager.default.fileExists(atPath: "/tmp/telme-escape.json"))
        // Each document names its group as the corpus does.
        var groups: [String] = []
        for name in documents {
            let url = out.appendingPathComponent("json").appendingPathComponent(name)
            let document = try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as! [String: Any]
            groups.append(document["group"] as! String)
        }
        #expect(groups.sorted() == ids.sorted())
    }
}
