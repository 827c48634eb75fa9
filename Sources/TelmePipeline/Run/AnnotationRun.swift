import Foundation
import TelmeCorpus
import TelmeModels

/// One annotation run into an output folder, as `telme annotate` makes it: the folder is
/// checked (continued when it holds this very run, started afresh when it is empty or the
/// caller overwrites, refused otherwise: see `RunFolder`), the units an earlier run committed
/// are kept, and the rest are annotated and committed unit by unit (`OutputWriter`), with
/// `run.json` saying how far the run got.
///
/// `init` prepares the folder; `execute` annotates what is left. What the run has to say goes
/// through `Messages` (the CLI prints it on stderr).
public final class AnnotationRun {
    /// Where and what the run writes.
    public struct Output: Sendable {
        /// The output folder, as the user named it (messages repeat it).
        public var folder: String
        public var formats: [OutputFormat]
        /// The CSV also holds each model's own class probabilities.
        public var modalityProbabilities: Bool
        /// Also write `embeddings/` (`EmbeddingWriter`).
        public var embeddings: Bool
        /// Start again in a folder that holds another run, a finished one, or files of another kind.
        public var overwrite: Bool

        public init(folder: String, formats: [OutputFormat], modalityProbabilities: Bool, embeddings: Bool,
                    overwrite: Bool) {
            self.folder = folder
            self.formats = formats
            self.modalityProbabilities = modalityProbabilities
            self.embeddings = embeddings
            self.overwrite = overwrite
        }
    }

    /// Notes (what the run does) and warnings (what looks wrong) for the user.
    public struct Messages {
        public var note: (String) -> Void
        public var warn: (String) -> Void

        public init(note: @escaping (String) -> Void, warn: @escaping (String) -> Void) {
            self.note = note
            self.warn = warn
        }
    }

    /// How `execute` ended.
    public enum Outcome: Equatable, Sendable {
        /// Every unit of the run is committed.
        case complete
        /// Stopped by `signal` after the unit under way was committed; the same run continues it.
        case stopped(signal: Int32)
    }

    public let annotator: Annotator
    public let corpus: Corpus
    public let plan: RunPlan
    /// The units of this run (its shard's), in order, as indices into `plan.units`.
    public let units: [Int]
    /// The run's description as of its last committed unit.
    public private(set) var info: RunInfo
    /// Utterances of this run's units, and those of them an earlier run committed.
    public let utterances: Int
    public let utterancesDone: Int
    /// Of the utterances left to annotate, those whose media files do not exist (see `execute`).
    public private(set) var missingMedia = 0

    private let locator: MediaLocator
    private let readMedia: Bool
    private let output: Output
    private let started: Date
    private let messages: Messages
    private let runURL: URL
    private let writer: OutputWriter
    private let unitsDone: Int
    private var vectors: EmbeddingWriter?
    /// Records in the folder so far (the next embedding index row).
    private var rows: Int
    /// Units this process has written (the checkpoint hook counts them).
    private var written = 0
    private let committed: Committed

    /// Prepares `output.folder` for the run `info` describes (its `units` and `state` as a
    /// fresh run's): refuses a folder holding another run or foreign files unless
    /// `output.overwrite`, keeps the units an earlier run of the same settings committed and
    /// writes `run.json`. `inputFiles` are the files the run reads (never to be overwritten).
    /// `readMedia` false annotates from the transcript alone (`--text-only`).
    public init(annotator: Annotator, description: ModelDescription, corpus: Corpus, plan: RunPlan, units: [Int],
                locator: MediaLocator, info: RunInfo, output: Output, inputFiles: [String], readMedia: Bool,
                started: Date, messages: Messages) throws {
        let folder = URL(fileURLWithPath: output.folder)
        let runURL = folder.appendingPathComponent("run.json")
        let state = try RunFolder.check(folder, inputs: inputFiles)
        let continued = try Self.continued(state, info: info, folder: folder, runURL: runURL, output: output,
                                           note: messages.note)
        let writer = try OutputWriter(directory: folder, labels: info.model.labels, formats: output.formats, plan: plan,
                                      modalityProbabilities: output.modalityProbabilities)
        if continued == nil {
            try RunFolder.removeStale(in: folder)
            // Into an empty folder, run.json first: the folder is a telme run from its first
            // byte on. (Over an earlier run, after the journal was emptied, below.)
            if case .empty = state { try info.write(to: runURL) }
        }
        let done = try writer.start(fresh: continued == nil)
        guard done.map(\.unit) == Array(units.prefix(done.count)) else {
            throw PipelineError(.changedFolder, path: folder.path + "/units.jsonl",
                                "the units done are not this run's first units (--overwrite starts again)")
        }
        self.annotator = annotator
        self.corpus = corpus
        self.plan = plan
        self.units = units
        self.locator = locator
        self.readMedia = readMedia
        self.output = output
        self.started = started
        self.messages = messages
        self.runURL = runURL
        self.writer = writer
        self.info = info
        self.info.unitsDone = done.count
        for entry in done { self.info.counts.add(contentsOf: entry.status) }
        unitsDone = done.count
        utterances = units.reduce(0) { $0 + plan.units[$1].count }
        utterancesDone = done.reduce(0) { $0 + $1.count }
        rows = utterancesDone
        committed = Committed(info)

        if let continued { keepNotes(of: continued) }
        if output.embeddings {
            vectors = try startEmbeddings(description, committed: done.flatMap { $0.first..<($0.first + $0.count) })
        }
        committed.info = self.info
        try self.info.write(to: runURL)
        if !done.isEmpty {
            messages.note(done.count == units.count ? "all \(units.count) units are already done in \(output.folder)"
                          : "continuing: \(done.count) of \(units.count) units are already done")
        }
    }

    /// The earlier run that `state` holds and this one continues; nil when the run starts
    /// afresh. Throws when the folder holds another run or foreign files and `overwrite` is off.
    private static func continued(_ state: RunFolder.State, info: RunInfo, folder: URL, runURL: URL, output: Output,
                                  note: (String) -> Void) throws -> RunInfo? {
        switch state {
        case .empty:
            return nil
        case .run(let previous) where !output.overwrite:
            let differences = info.differences(from: previous)
            guard differences.isEmpty else {
                throw PipelineError(.outputFolder, path: runURL.path,
                                    "the folder holds another run: " + differences.joined(separator: "; ")
                                    + ". Use --overwrite to replace it, or another --out")
            }
            return previous
        case .foreign(let names) where !output.overwrite:
            throw PipelineError(.outputFolder, path: folder.path,
                                "holds files that are not a telme run (\(names.joined(separator: ", "))"
                                + "\(names.count == 5 ? ", ..." : "")); telme writes only into an empty folder or one "
                                + "holding a telme run: choose another --out (--overwrite replaces telme's own files there)")
        case .run, .foreign:
            let replaced = RunFolder.ownFiles(in: folder)
            if !replaced.isEmpty { note("--overwrite: replacing " + replaced.joined(separator: ", ")) }
            return nil
        }
    }

    /// Notes what changed since the run being continued, and keeps its notes with them.
    private func keepNotes(of continued: RunInfo) {
        let notes = info.notes(continuing: continued)
        for n in notes { messages.note(n) }
        let all = (continued.notes ?? []) + notes
        info.notes = all.isEmpty ? nil : all
    }

    /// The embedding files, cut back to the `committed` utterances' rows.
    private func startEmbeddings(_ description: ModelDescription, committed: [Int]) throws -> EmbeddingWriter {
        let vectors = try EmbeddingWriter(
            directory: URL(fileURLWithPath: output.folder), text: description.text.projectionDim,
            audio: description.audio?.encoder.hiddenSize ?? 0, video: description.video?.encoder.hiddenSize ?? 0,
            fused: description.fusion == nil ? 0 : description.text.projectionDim)
        try vectors.start(committedIndex: committed.enumerated().map { indexRow($0, $1) })
        annotator.keepVectors = true
        return vectors
    }

    /// The index row of the record of utterance `i`, the `row`th of the folder.
    private func indexRow(_ row: Int, _ i: Int) -> String {
        let u = corpus.utterances[i]
        let names = Annotator.names(of: u, in: corpus, locator: locator)
        return EmbeddingWriter.indexRow(row: row, source: names.source, transcript: names.transcript, u)
    }

    /// Annotates and commits the units not done yet, in order. After each committed unit,
    /// `stopRequested` is asked for a signal: when it gives one (and units are left), the run
    /// stops there and `run.json` says interrupted. `checkpoint(unit, point)` is called at the
    /// points of writing the `unit`th unit of this process (1-based): `before` (records
    /// computed, nothing written), then `OutputWriter.Checkpoint`'s. `progress` gets the
    /// utterances done of `utterances`, earlier runs' included.
    public func execute(stopRequested: @escaping () -> Int32?, checkpoint: ((Int, String) -> Void)? = nil,
                        progress: ((Double) -> Void)? = nil) throws -> Outcome {
        writer.checkpoint = { [unowned self] point in checkpoint?(self.written + 1, point.rawValue) }
        let todo = Set(units.dropFirst(unitsDone))
        let unitAt = Dictionary(plan.units.enumerated().map { ($1.lowerBound, $0) }, uniquingKeysWith: { first, _ in first })
        if readMedia {
            missingMedia = checkMediaExist(utterances: todo.sorted().flatMap { Array(plan.units[$0]) })
        }
        let before = Double(utterancesDone)
        do {
            try annotator.annotate(corpus, locator: locator, readMedia: readMedia,
                                   only: { unitAt[$0.lowerBound].map(todo.contains) ?? false },
                                   progress: { progress?(before + $0) }) { range, records in
                guard let unit = unitAt[range.lowerBound] else {
                    throw PipelineError(.internalError, "internal error: utterances \(range) are not a unit of the run's plan")
                }
                checkpoint?(written + 1, "before")
                try commit(unit: unit, range: range, records: records)
                if let signal = stopRequested(), info.unitsDone < units.count { throw Stopped(signal: signal) }
            }
        } catch let stopped as Stopped {
            try finish(.interrupted)
            return .stopped(signal: stopped.signal)
        }
        try finish(.complete)
        return .complete
    }

    /// Writes one unit's records (and vectors) and counts them.
    private func commit(unit: Int, range: Range<Int>, records: [AnnotationRecord]) throws {
        try vectors?.append(records, index: range.enumerated().map { indexRow(rows + $0, $1) })
        rows += records.count
        try writer.write(unit: unit, records: records)
        written += 1
        info.unitsDone += 1
        info.counts.add(contentsOf: records.map(\.status))
        committed.info = info
    }

    private func finish(_ state: RunInfo.State) throws {
        info.state = state
        info.seconds = Date().timeIntervalSince(started)
        try info.write(to: runURL)
    }

    /// For a forced stop (another thread, the process about to end): `run.json` says
    /// interrupted, with the units committed so far.
    public func markInterrupted() {
        var last = committed.info
        last.state = .interrupted
        last.seconds = Date().timeIntervalSince(started)
        try? last.write(to: runURL)
    }

    /// Whether most utterances annotated by `execute` had no media file (almost always a wrong
    /// `--media`).
    public var mostMediaMissing: Bool {
        missingMedia * 2 > info.counts.total - utterancesDone && missingMedia > 0
    }

    /// Warns when most of `utterances` name media files that do not exist, which almost always
    /// means a wrong `--media`; returns how many have none. A stat per file, nothing opened.
    func checkMediaExist(utterances: [Int]) -> Int {
        var exists: [String: Bool] = [:]
        var missing = 0
        var example: (path: String, utterance: Utterance)?
        for i in utterances {
            let u = corpus.utterances[i]
            guard let source = locator.source(for: u), source.unavailable == nil else { continue }
            let paths = [source.audioPath, source.videoPath].compactMap { $0 }
            let found = paths.contains { path in
                if let known = exists[path] { return known }
                let known = FileManager.default.fileExists(atPath: path)
                exists[path] = known
                return known
            }
            if !found, let first = paths.first {
                missing += 1
                if example == nil { example = (first, u) }
            }
        }
        if missing * 2 > utterances.count, let example {
            messages.warn("MOST MEDIA ARE MISSING: \(missing) of \(utterances.count) utterances have no media file "
                          + "(e.g. \(example.path), dialogue \(example.utterance.dialogue) utterance \(example.utterance.index)); "
                          + "is --media right? They get the text-only prediction (status degraded)")
        }
        return missing
    }

    /// The run's description as of its last committed unit, for the signal handler's thread.
    private final class Committed: @unchecked Sendable {
        private let lock = NSLock()
        private var value: RunInfo
        init(_ value: RunInfo) { self.value = value }
        var info: RunInfo {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }

    /// Thrown by the sink to end a run stopped by a signal.
    private struct Stopped: Error {
        var signal: Int32
    }
}
