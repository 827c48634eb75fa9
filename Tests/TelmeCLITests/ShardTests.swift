import Foundation
import Testing
import TelmeFormat
import TelmeTestSupport

/// Sharding and `telme merge` on the real `telme` process: 3 shards through the scheduler
/// variables (the Slurm sample script itself, and Kubernetes' JOB_COMPLETION_INDEX) merge into
/// the bytes of one run over the whole corpus (the tiny teacher-only model on a corpus of 12
/// dialogues, one of which comes back after others, two of whose ids share a file name).
@Suite(.enabled(if: TelmeBinary.available, "needs the telme executable next to the tests (swift build --build-tests)"))
struct ShardTests {
    static let repository = TestPaths.repository
    static let slurmScript = repository.appendingPathComponent("Samples/scheduler/slurm-array.sh")
    static let dialogues = ["0", "1", "2", "a/b", "a_b", "5", "6", "7", "8", "9", "10", "11", "2"]

    /// The corpus: dialogues of 1 to 3 utterances; "2" comes back at the end.
    static let corpus: URL = {
        let folder = try! AnnotateTests.temporaryDirectory()
        var text = "Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID\n"
        for (d, dialogue) in dialogues.enumerated() {
            for u in 0..<(1 + d % 3) {
                text += "\"Line \(u) of \(dialogue), number \(d).\",\(u % 2 == 0 ? "Ana" : "Ben"),"
                    + "\(u % 2 == 0 ? "joy" : "neutral"),\(dialogue),\(u)\n"
            }
        }
        let url = folder.appendingPathComponent("corpus.csv")
        try! text.write(to: url, atomically: true, encoding: .utf8)
        return url
    }()

    static func arguments(_ out: URL, _ extra: [String] = []) -> [String] {
        ["annotate", "--model", AnnotateTests.model.path, "--corpus", corpus.path, "--out", out.path,
         "--format", "jsonl,csv,json", "--threads", "1"] + extra
    }

    static func single() throws -> URL {
        let out = try AnnotateTests.temporaryDirectory().appendingPathComponent("single")
        let result = try TelmeBinary.run(arguments(out))
        #expect(result.status == 0, "\(result.stderr)")
        return out
    }

    /// Runs the Slurm sample script as array task `task` of 1-3 (or the merge step).
    static func slurm(_ out: URL, task: Int?) throws -> TelmeBinary.Result {
        var env = ["TELME": TelmeBinary.url.path, "MODEL": AnnotateTests.model.path, "CORPUS": corpus.path,
                   "OUT": out.path, "FORMAT": "jsonl,csv,json"]
        if let task {
            env.merge(["SLURM_ARRAY_TASK_ID": "\(task)", "SLURM_ARRAY_TASK_MIN": "1", "SLURM_ARRAY_TASK_MAX": "3",
                       "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_CPUS_PER_TASK": "1"]) { $1 }
        } else {
            env["TELME_STEP"] = "merge"
        }
        return try TelmeBinary.run([slurmScript.path], environment: env, executable: URL(fileURLWithPath: "/bin/bash"))
    }

    static func records(_ out: URL) throws -> [[String: Any]] {
        try String(contentsOf: out.appendingPathComponent("annotations.jsonl"), encoding: .utf8)
            .split(separator: "\n").map { try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any] }
    }

    @Test func threeSlurmShardsMergeIntoTheSingleRun() throws {
        let single = try Self.single()
        let out = try AnnotateTests.temporaryDirectory()
        var total = 0
        for task in 1...3 {
            let result = try Self.slurm(out, task: task)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("shard \(task - 1)/3 (SLURM_ARRAY_TASK_ID=\(task) - SLURM_ARRAY_TASK_MIN=1"),
                    "\(result.stderr)")
            // The shard holds exactly the dialogues whose id hashes to it (XXH64, seed 0, mod 3).
            let records = try Self.records(out.appendingPathComponent("shard-\(task)"))
            #expect(!records.isEmpty, "every shard gets some of the 12 dialogues")
            for record in records {
                let dialogue = record["dialogue"] as! String
                #expect(Int(XXH64.hash(Array(dialogue.utf8)) % 3) == task - 1, "\(dialogue)")
            }
            total += records.count
        }
        #expect(total == (try Self.records(single)).count)
        let merged = try Self.slurm(out, task: nil)
        #expect(merged.status == 0, "\(merged.stderr)")
        try TelmeBinary.expectSameOutputs(single, out.appendingPathComponent("merged"), "3 shards merged")
        #expect(FileManager.default.fileExists(atPath: out.appendingPathComponent("merged/json/a_b~2.json").path))
        let info = try TelmeBinary.runInfo(out.appendingPathComponent("merged"))
        #expect(info["state"] as? String == "merged")
        #expect(info["shard"] == nil && (info["merged_from"] as? [String])?.count == 3)
        #expect((info["counts"] as? [String: Int])?["ok"] == total)
    }

    @Test func kubernetesIndexIsTheShardOption() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let fromIndex = folder.appendingPathComponent("index"), fromOption = folder.appendingPathComponent("option")
        let indexed = try TelmeBinary.run(Self.arguments(fromIndex),
                                          environment: ["JOB_COMPLETION_INDEX": "2", "TELME_SHARD_COUNT": "3"])
        #expect(indexed.status == 0 && indexed.stderr.contains("shard 2/3 (JOB_COMPLETION_INDEX=2 of 3)"), "\(indexed.stderr)")
        #expect(try TelmeBinary.run(Self.arguments(fromOption, ["--shard", "2/3"])).status == 0)
        try TelmeBinary.expectSameOutputs(fromIndex, fromOption, "JOB_COMPLETION_INDEX=2 and --shard 2/3")
        // --shard-count instead of TELME_SHARD_COUNT; without either, refused.
        let counted = try TelmeBinary.run(Self.arguments(folder.appendingPathComponent("count"), ["--shard-count", "3"]),
                                          environment: ["JOB_COMPLETION_INDEX": "2"])
        #expect(counted.status == 0 && counted.stderr.contains("shard 2/3"), "\(counted.stderr)")
        let uncounted = try TelmeBinary.run(Self.arguments(folder.appendingPathComponent("none")),
                                            environment: ["JOB_COMPLETION_INDEX": "2"])
        #expect(uncounted.status == 2 && uncounted.stderr.contains("TELME_SHARD_COUNT"), "\(uncounted.stderr)")
    }

    @Test func unusableShardsAreRefused() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let stepped = try TelmeBinary.run(Self.arguments(folder.appendingPathComponent("a")), environment: [
            "SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": "4",
            "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_STEP": "2"])
        #expect(stepped.status == 2 && stepped.stderr.contains("not a range with step 1"), "\(stepped.stderr)")
        let official = try TelmeBinary.run(Self.arguments(folder.appendingPathComponent("b"),
                                                          ["--shard", "0/2", "--batch-semantics", "official-batch4"]))
        #expect(official.status == 2 && official.stderr.contains("cannot be split into shards"), "\(official.stderr)")
        // 0/1 turns a scheduler's shard off: the whole corpus.
        let whole = try TelmeBinary.run(Self.arguments(folder.appendingPathComponent("c"), ["--shard", "0/1"]),
                                        environment: ["JOB_COMPLETION_INDEX": "1", "TELME_SHARD_COUNT": "3"])
        #expect(whole.status == 0)
        try TelmeBinary.expectSameOutputs(try Self.single(), folder.appendingPathComponent("c"), "--shard 0/1")
    }

    @Test func missingShardIsListedAndAnotherRunIsRefused() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let shards = (0..<3).map { folder.appendingPathComponent("shard-\($0)") }
        for (k, shard) in shards.enumerated() {
            #expect(try TelmeBinary.run(Self.arguments(shard, ["--shard", "\(k)/3"])).status == 0)
        }
        let partial = folder.appendingPathComponent("partial")
        let merged = try TelmeBinary.run(["merge", shards[0].path, shards[2].path, "--out", partial.path])
        #expect(merged.status == 3, "\(merged.stderr)")
        let absent = Set(try Self.records(shards[1]).map { $0["dialogue"] as! String })
        for dialogue in absent {
            #expect(merged.stderr.contains("missing: dialogue \(dialogue),"), "\(dialogue): \(merged.stderr)")
        }
        #expect(try TelmeBinary.runInfo(partial)["state"] as? String == "incomplete")
        #expect(Set(try Self.records(partial).map { $0["dialogue"] as! String }).isDisjoint(with: absent))
        // A shard of another run (another numbering) does not merge.
        let other = folder.appendingPathComponent("other")
        #expect(try TelmeBinary.run(Self.arguments(other, ["--shard", "1/3", "--speaker-numbering", "dialogue"])).status == 0)
        let refused = try TelmeBinary.run(["merge", shards[0].path, other.path, shards[2].path,
                                           "--out", folder.appendingPathComponent("bad").path])
        #expect(refused.status == 2 && refused.stderr.contains("speaker_numbering"), "\(refused.stderr)")
        // The same shard twice does not either.
        let twice = try TelmeBinary.run(["merge", shards[0].path, shards[0].path, "--out",
                                         folder.appendingPathComponent("twice").path])
        #expect(twice.status == 2 && twice.stderr.contains("is in both"), "\(twice.stderr)")
    }

    @Test func kubernetesManifestCountsItsCompletions() throws {
        let text = try String(contentsOf: Self.repository.appendingPathComponent("Samples/scheduler/k8s-indexed-job.yaml"),
                              encoding: .utf8)
        #expect(text.contains("completionMode: Indexed"))
        let completions = text.firstMatch(of: /completions: (\d+)/)?.1
        let count = text.firstMatch(of: /name: TELME_SHARD_COUNT\s+value: "(\d+)"/)?.1
        #expect(completions != nil && completions == count, "TELME_SHARD_COUNT must equal completions")
        #expect(text.contains("shard-$JOB_COMPLETION_INDEX") && text.contains("telme merge /data/out/shard-*"))
    }
}

/// The episodes layout: an episode (several dialogues, one json document) is the shard key and
/// a unit of resume that spans documents.
@Suite(.enabled(if: TelmeBinary.available, "needs the telme executable next to the tests (swift build --build-tests)"))
struct EpisodeShardTests {
    static func arguments(_ out: URL, _ extra: [String] = []) -> [String] {
        ["annotate", "--model", AnnotateLayoutsTests.meldModel.path, "--corpus", AnnotateLayoutsTests.episodes.path,
         "--out", out.path, "--format", "jsonl,csv,json", "--threads", "1"] + extra
    }

    @Test func episodeShardsMergeAndAKilledRunContinues() throws {
        let folder = try AnnotateTests.temporaryDirectory()
        let single = folder.appendingPathComponent("single")
        #expect(try TelmeBinary.run(Self.arguments(single)).status <= 1)
        let units = try String(contentsOf: single.appendingPathComponent("units.jsonl"), encoding: .utf8)
        #expect(units.split(separator: "\n").count > 2, "episodes hold several dialogues")
        // Shards by episode: the merge equals the single run.
        let shards = (0..<2).map { folder.appendingPathComponent("shard-\($0)") }
        for (k, shard) in shards.enumerated() {
            let result = try TelmeBinary.run(Self.arguments(shard, ["--shard", "\(k)/2"]))
            #expect(result.status <= 1, "\(result.stderr)")
            #expect(!(try ShardTests.records(shard)).isEmpty, "each shard gets an episode")
            for record in try ShardTests.records(shard) {
                let episode = String((record["dialogue"] as! String).split(separator: "#")[0])
                #expect(Int(XXH64.hash(Array(episode.utf8)) % 2) == k, "\(episode)")
            }
        }
        let merged = folder.appendingPathComponent("merged")
        #expect(try TelmeBinary.run(["merge", shards[0].path, shards[1].path, "--out", merged.path]).status <= 1)
        try TelmeBinary.expectSameOutputs(single, merged, "episode shards merged")
        // Killed after the second dialogue was written, before its commit: the episode's document
        // is continued, not restarted.
        let killed = folder.appendingPathComponent("killed")
        let result = try TelmeBinary.run(Self.arguments(killed), environment: ["TELME_TEST_SIGNAL": "2:written:KILL"])
        #expect(result.signaled && result.status == SIGKILL)
        #expect(try TelmeBinary.run(Self.arguments(killed)).status <= 1)
        try TelmeBinary.expectSameOutputs(single, killed, "episodes killed and continued")
    }

    @Test func aFolderInUseIsRefused() throws {
        let out = try AnnotateTests.temporaryDirectory()
        let journal = open(out.appendingPathComponent("units.jsonl").path, O_RDWR | O_CREAT, 0o644)
        #expect(journal >= 0 && flock(journal, LOCK_EX | LOCK_NB) == 0)
        defer { close(journal) }
        let refused = try TelmeBinary.run(Self.arguments(out))
        #expect(refused.status == 2 && refused.stderr.contains("another telme process is writing to this folder"),
                "\(refused.stderr)")
    }
}
