import Foundation
import TelmeModels
import TelmeCorpus
import TelmePipeline
import TelmeEvaluation

/// A real output folder for the fuzz targets of the run files (`units.jsonl`, `run.json`,
/// `annotations.jsonl`): a small corpus of three dialogues annotated with synthetic records by
/// `OutputWriter`, as `telme annotate` writes them, and its `run.json`. Each input replaces one
/// file of a fresh copy of the folder; then the readers run on it as resume, merge and evaluate
/// run them. On tmpfs when there is one (`/dev/shm`), so that the syncs cost nothing.
final class RunFixture: @unchecked Sendable {
    let root: URL
    let pristine: URL
    let work: URL
    let merged: URL
    let corpus: Corpus
    let plan: RunPlan
    let info: RunInfo
    let labels: [String]
    let goldCSV: URL
    static let formats: [OutputFormat] = [.jsonl, .csv, .json]
    static let files = ["run.json", "units.jsonl", "annotations.jsonl", "annotations.csv"]
    private let lock = NSLock()

    /// Made once per process; nil when the folder cannot be written.
    static let shared: RunFixture? = try? RunFixture()

    private init() throws {
        let shm = URL(fileURLWithPath: "/dev/shm")
        let base = FileManager.default.isWritableFile(atPath: shm.path) ? shm : FileManager.default.temporaryDirectory
        root = base.appendingPathComponent("telme-fuzz-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        pristine = root.appendingPathComponent("run")
        work = root.appendingPathComponent("work")
        merged = root.appendingPathComponent("merged")
        labels = ModelDescription.defaultLabels(dataset: "meld") ?? ["neutral", "joy"]
        // The corpus at a fixed path, so that run.json and the records (which name it) are the
        // same bytes in every process: the committed seeds are this folder's files.
        let corpusFolder = base.appendingPathComponent("telme-fuzz-corpus")
        goldCSV = corpusFolder.appendingPathComponent("corpus.csv")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: corpusFolder, withIntermediateDirectories: true)

        var csv = "Utterance,Speaker,Emotion,Dialogue_ID,Utterance_ID\n"
        var utterances: [Utterance] = []
        for (d, count) in [3, 1, 2].enumerated() {
            for u in 0..<count {
                let gold = labels[(d + u) % labels.count]
                utterances.append(Utterance(dialogue: "\(d)", index: u, utteranceID: "\(u)", speaker: "S\(u % 2)",
                                            text: "line \(u) of \(d)", gold: gold, line: utterances.count + 2))
                csv += "line \(u) of \(d),S\(u % 2),\(gold),\(d),\(u)\n"
            }
        }
        try Data(csv.utf8).write(to: goldCSV, options: .atomic)
        corpus = Corpus(file: goldCSV.path, layout: .meld, utterances: utterances)
        plan = RunPlan(corpus: corpus, semantics: .independent)
        let settings = Settings.defaults(dataset: "meld")
        info = RunInfo(
            version: "fuzz", commandLine: ["telme", "annotate"],
            model: .init(path: "m.telme", fingerprint: "0123456789abcdef", fileSize: 1, sourceFile: "m.h5",
                         sourceSHA256: String(repeating: "0", count: 64), dtype: "f32", dataset: "meld", labels: labels),
            fusion: nil, settings: settings,
            corpus: .init(path: goldCSV.path, layout: "meld", utterances: utterances.count,
                          digest: RunPlan.digest(of: corpus), media: nil, dialogueGap: 5, textOnly: true,
                          allowOutsideRoot: false),
            formats: Self.formats, batchSize: 8, threads: 1, shard: nil, state: .complete, units: plan.units.count,
            unitsDone: plan.units.count)
        let writer = try OutputWriter(directory: pristine, labels: labels, formats: Self.formats, plan: plan)
        writer.syncEachUnit = false
        try writer.start(fresh: true)
        for (unit, range) in plan.units.enumerated() {
            let records = range.map { i in
                let u = utterances[i]
                let label = labels[(i * 3) % labels.count]
                return AnnotationRecord(source: goldCSV.path, dialogue: u.dialogue, utterance: u.index, speaker: u.speaker,
                                        text: u.text, label: label, confidence: 0.5,
                                        probabilities: labels.map { $0 == label ? 0.5 : 0.5 / Float(labels.count - 1) },
                                        textLabel: label, gold: u.gold, status: i == 4 ? .degraded : .ok,
                                        message: i == 4 ? "audio: missing" : "")
            }
            try writer.write(unit: unit, records: records)
        }
        try writer.finish()
        try info.write(to: pristine.appendingPathComponent("run.json"))
    }

    deinit { try? FileManager.default.removeItem(at: root) }

    /// The pristine file `name` (a seed for its target).
    func pristineFile(_ name: String) throws -> Data {
        try Data(contentsOf: pristine.appendingPathComponent(name))
    }

    /// The pristine folder's files (relative path -> bytes), read once: copying them with
    /// FileManager (which looks up owners and groups) made each input several times slower.
    /// Arrays, not `Data`: LeakSanitizer does not see `Data`'s packed storage reference and
    /// reported these process-long buffers as leaked when libFuzzer exits.
    private lazy var pristineFiles: [(String, [UInt8])] = {
        let documents = (try? FileManager.default.contentsOfDirectory(atPath: pristine.appendingPathComponent("json").path)) ?? []
        return (Self.files + documents.map { "json/\($0)" }).compactMap { name in
            (try? Data(contentsOf: pristine.appendingPathComponent(name))).map { (name, [UInt8]($0)) }
        }
    }()

    /// `work` as a fresh copy of the pristine run with `name` replaced by `data`.
    func prepare(replacing name: String, with data: Data) throws {
        let fm = FileManager.default
        try? fm.removeItem(at: work)
        try fm.createDirectory(at: work.appendingPathComponent("json"), withIntermediateDirectories: true)
        for (file, bytes) in pristineFiles where file != name {
            try Data(bytes).write(to: work.appendingPathComponent(file))
        }
        try data.write(to: work.appendingPathComponent(name))
    }

    /// What the readers do with the folder: resume it (`OutputWriter.start`, the journal and
    /// file checks), merge it, evaluate it (with the records' gold and a gold CSV). Each may
    /// refuse; the first refusal is rethrown after all ran.
    func exercise(original name: String, data: Data) throws {
        // One work folder: inputs run one at a time (the replay tests run in parallel).
        lock.lock()
        defer { lock.unlock() }
        var firstError: (any Error)?
        func attempt(_ body: () throws -> Void) {
            do { try body() } catch { if firstError == nil { firstError = error } }
        }
        attempt {
            try prepare(replacing: name, with: data)
            let previous = try RunInfo.read(from: work.appendingPathComponent("run.json"))
            _ = info.differences(from: previous)
            let writer = try OutputWriter(directory: work, labels: previous.model.labels, formats: previous.formats,
                                          plan: plan)
            writer.syncEachUnit = false
            try writer.start(fresh: false)
        }
        attempt {
            try prepare(replacing: name, with: data)
            try? FileManager.default.removeItem(at: merged)
            _ = try ShardMerge.merge([work], into: merged, corpus: corpus, commandLine: ["telme", "merge"])
        }
        attempt {
            try prepare(replacing: name, with: data)
            _ = try Evaluation.evaluate(directory: work)
            _ = try Evaluation.evaluate(directory: work, goldCSV: goldCSV, layout: .meld, allowUnknownGold: true)
        }
        if let firstError { throw firstError }
    }
}
