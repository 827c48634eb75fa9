import ArgumentParser
import Foundation
import TelmeFormat
import TelmeModels
import TelmeCorpus
import TelmePipeline
import TelmeTensor

/// `telme annotate`: one emotion record per utterance of a corpus.
struct Annotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Annotate every utterance of a corpus with an emotion.",
        discussion: """
            Writes annotations.jsonl and annotations.csv (see Schemas/annotation-record.schema.json), \
            units.jsonl and run.json to the output folder, unit by unit (a dialogue, or a batch of 4 with \
            official-batch4) as they finish. The same command on the same folder continues an interrupted \
            run. SIGINT or SIGTERM: the current unit is finished and written, then the run stops. Every \
            run ends with one summary line on stderr (counts, wall time, output folder). Exit status: 0 \
            when every utterance is ok, 1 when some were degraded or failed, 2 for usage, model or corpus \
            errors, 130 / 143 when stopped by SIGINT / SIGTERM.
            """)

    @Option(help: "The converted model (.telme).")
    var model: String

    @Option(help: "The corpus: a transcript CSV (meld, iemocap), a folder of episodes with transcripts, or one episode's transcript next to its video.")
    var corpus: String

    @Option(help: "Corpus layout: auto, meld, iemocap or episodes.")
    var layout: LayoutChoice = .auto

    @Option(help: ArgumentHelp("Media folder: MELD clips dia{D}_utt{U}.mp4, or the root of the CSV's relative paths.",
                               discussion: "Default: the CSV's Video_Path / Wav_Path, relative to the CSV's folder."))
    var media: String?

    @Flag(help: "Annotate from the transcript alone: audio and video are skipped (status ok), and episode transcripts without a video are annotated too.")
    var textOnly = false

    @Flag(help: "Read media files outside the corpus root (--media, or the CSV's folder); refused otherwise.")
    var allowOutsideRoot = false

    @Option(help: "Episodes: a new dialogue starts after a silence longer than this many seconds.")
    var dialogueGap: Double = EpisodeCorpus.defaultDialogueGap

    @Option(name: [.customShort("o"), .long, .customLong("output")], help: "Output folder.")
    var out: String

    @Option(help: "Comma-separated output formats: jsonl, csv, json (one document per episode or dialogue).")
    var format: String = "jsonl,csv"

    @Flag(help: "The CSV also holds each model's own class probabilities (text_p_<label>, audio_p_<label>, video_p_<label>), as the JSON records always do.")
    var modalityProbabilities = false

    @Flag(help: "Also write embeddings/: each model's vector per utterance (text.npy, audio.npy, video.npy, fused.npy: float32, one row per record) and index.csv.")
    var embeddings = false

    @Option(help: "Speaker numbering: official (the authors') or dialogue. Default: the model's setting.")
    var speakerNumbering: Settings.SpeakerNumbering?

    @Option(help: "Order of the students in the fusion: audio-video or video-audio. Default: the model's setting.")
    var fusionOrder: Settings.FusionOrder?

    @Option(help: "Channel order of video frames: bgr or rgb. Default: the model's setting.")
    var channelOrder: Settings.ChannelOrder?

    @Option(help: "Audio sample rate in Hz. Default: the model's setting.")
    var sampleRate: Int?

    @Option(help: "independent (default) or official-batch4 (the authors' batches of 4, order-dependent).")
    var batchSemantics: Settings.BatchSemantics?

    @Option(help: "A missing or unreadable medium: text-only (the teacher alone) or zero (the authors' zero input).")
    var missingMedia: Settings.MissingMedia?

    @Option(help: "ASF attention heads. Default: the model's.")
    var fusionHeads: Int?

    @Option(help: "ASF beta_shift. Default: the model's.")
    var betaShift: Double?

    @Option(help: "Utterances per teacher and video batch, within one dialogue (never changes labels; probabilities may change in the last bits, so a run resumes only with its own batch size).")
    var batchSize: Int = 8

    @OptionGroup var compute: ComputeOptions

    @Option(help: ArgumentHelp("When stderr is not a terminal: a plain progress line every this many seconds (0: none).",
                               discussion: "On a terminal, progress is one line redrawn in place."))
    var progressEvery: Double = 30

    /// Progress off a terminal used to need this flag; lines are the default now. Kept so that old commands run.
    @Flag(help: .hidden)
    var progress = false

    @Flag(help: "Start again in an output folder that holds another run (otherwise refused) or a finished one.")
    var overwrite = false

    @Option(help: ArgumentHelp("Annotate only shard INDEX (0-based) of COUNT: whole dialogues, by a hash of their ids.",
                               discussion: "Default: from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; 0/1 is the whole corpus."))
    var shard: String?

    @Option(help: "The number of shards with JOB_COMPLETION_INDEX (default: TELME_SHARD_COUNT).")
    var shardCount: Int?

    enum LayoutChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, meld, iemocap, episodes
    }

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        if let sampleRate, sampleRate < 1000 || sampleRate > 384_000 {
            throw ValidationError("--sample-rate must be between 1000 and 384000 Hz")
        }
        if let fusionHeads, fusionHeads < 1 { throw ValidationError("--fusion-heads must be at least 1") }
        if let betaShift, !betaShift.isFinite { throw ValidationError("--beta-shift must be a number") }
        guard dialogueGap.isFinite, dialogueGap >= 0 else { throw ValidationError("--dialogue-gap must be ≥ 0") }
        guard progressEvery.isFinite, progressEvery >= 0 else { throw ValidationError("--progress-every must be ≥ 0") }
        _ = try formats()
        if let shard, Shard(shard) == nil { throw ValidationError("--shard must be INDEX/COUNT with 0 ≤ INDEX < COUNT") }
        if let shardCount, shardCount < 1 { throw ValidationError("--shard-count must be at least 1") }
    }

    /// The shard of this process (`--shard`, or the scheduler's environment); nil for the
    /// whole corpus. Official batches of 4 run across dialogues in corpus order: no shards.
    func resolveShard(_ settings: Settings) throws -> Shard? {
        var found: (Shard, String)?
        if let shard, let parsed = Shard(shard) {
            found = (parsed, "--shard")
        } else {
            found = try Shard.fromEnvironment(ProcessInfo.processInfo.environment, countOption: shardCount)
        }
        guard let (shard, origin) = found, shard.count > 1 else { return nil }
        guard settings.batchSemantics == .independent else {
            throw ValidationError("shard \(shard) (\(origin)): official-batch4 batches run across dialogues in "
                                  + "corpus order, so they cannot be split into shards; use independent batch semantics")
        }
        note("shard \(shard) (\(origin))")
        return shard
    }

    func formats() throws -> [OutputFormat] {
        try format.split(separator: ",").map { name in
            guard let f = OutputFormat(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown output format \"\(name)\"; known: jsonl, csv, json")
            }
            return f
        }
    }

    /// The model's settings with this command's overrides.
    func settings(for model: ModelDescription) -> Settings {
        var s = model.settings
        if let speakerNumbering { s.speakerNumbering = speakerNumbering }
        if let fusionOrder { s.fusionOrder = fusionOrder }
        if let channelOrder { s.channelOrder = channelOrder }
        if let sampleRate { s.sampleRate = sampleRate }
        if let batchSemantics { s.batchSemantics = batchSemantics }
        if let missingMedia { s.missingMedia = missingMedia }
        return s
    }

    /// The model's description with this command's fusion overrides.
    func description(for model: ModelDescription) throws -> ModelDescription {
        var d = model
        if fusionHeads != nil || betaShift != nil {
            guard var fusion = d.fusion else {
                throw ValidationError("--fusion-heads and --beta-shift need a model with a fusion")
            }
            if let fusionHeads { fusion.numHeads = fusionHeads }
            if let betaShift { fusion.betaShift = betaShift }
            d.fusion = fusion
            let width = (d.audio?.encoder.hiddenSize ?? 0) + (d.video?.encoder.hiddenSize ?? 0)
            guard width % fusion.numHeads == 0 else {
                throw ValidationError("--fusion-heads \(fusion.numHeads) does not divide the fusion width \(width)")
            }
        }
        return d
    }

    /// The corpus options, read as `validate` reads them.
    var input: CorpusInput {
        CorpusInput(corpus: corpus, layout: layout, media: media, dialogueGap: dialogueGap,
                    allowOutsideRoot: allowOutsideRoot, textOnly: textOnly)
    }

    /// Reads the corpus of any layout; warnings go to stderr.
    func readCorpus() throws -> Corpus {
        try Self.readCorpus(input)
    }

    /// Reads a corpus of any layout; warnings go to stderr, repeated ones summarised.
    static func readCorpus(_ input: CorpusInput) throws -> Corpus {
        let read = try input.read()
        let summary = WarningSummary()
        for message in read.messages { summary.warn(message) }
        summary.finish()
        return read.corpus
    }

    /// The files this run reads that an output could name: the model, the corpus (a CSV, or
    /// the files of an episodes folder).
    func inputFiles() -> [String] {
        let listing = (try? FileManager.default.contentsOfDirectory(atPath: corpus)) ?? []
        return [model, corpus] + listing.map { (corpus as NSString).appendingPathComponent($0) }
    }

    /// Where the media are (with `--text-only` too: records name their source the same way).
    func locator(for corpus: Corpus, settings: Settings) -> MediaLocator {
        input.locator(for: corpus, videoMarginSeconds: settings.videoMarginSeconds)
    }

    /// Warns when most of `utterances` name media files that do not exist, which almost always
    /// means a wrong `--media`; returns how many have none. A stat per file, nothing opened.
    func checkMediaExist(_ corpus: Corpus, locator: MediaLocator, utterances: [Int]) -> Int {
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
            warn("MOST MEDIA ARE MISSING: \(missing) of \(utterances.count) utterances have no media file "
                 + "(e.g. \(example.path), dialogue \(example.utterance.dialogue) utterance \(example.utterance.index)); "
                 + "is --media right? They get the text-only prediction (status degraded)")
        }
        return missing
    }

    func run() async throws {
        let started = Date()
        let computeInfo = try compute.apply()
        let file = try openModel(model)
        let description = try description(for: file.model)
        let settings = settings(for: file.model)
        let corpus = try readCorpus()
        let labels = Set(description.labels)
        let goldWarnings = WarningSummary()
        for u in corpus.utterances {
            if let gold = u.gold, !labels.contains(gold) {
                goldWarnings.warn("\(u.transcript.map { input.root + "/" + $0 } ?? corpus.file):\(u.line): gold label "
                                  + "\"\(gold)\" is not one of the model's labels")
            }
        }
        goldWarnings.finish()
        let annotator = try Annotator(model: file, description: description, settings: settings, batchSize: batchSize)
        let shard = try resolveShard(settings)
        let plan = RunPlan(corpus: corpus, semantics: settings.batchSemantics)
        let mine = plan.units(of: shard)
        let formats = try formats()
        var info = RunInfo(
            version: TelmeVersion.string, commandLine: CommandLine.arguments,
            model: .init(path: file.url.path, fingerprint: file.fingerprint, fileSize: file.fileSize,
                         sourceFile: file.provenance.sourceFile, sourceSHA256: file.provenance.sourceSHA256,
                         dtype: file.dtype.rawValue, dataset: file.model.dataset, labels: file.model.labels),
            fusion: description.fusion, settings: settings,
            corpus: .init(path: corpus.file, layout: corpus.layout.rawValue, utterances: corpus.utterances.count,
                          digest: RunPlan.digest(of: corpus), media: media, dialogueGap: dialogueGap,
                          textOnly: textOnly, allowOutsideRoot: allowOutsideRoot,
                          canonicalPath: MediaLocator.resolved(corpus.file),
                          canonicalMedia: media.map(MediaLocator.resolved)),
            formats: formats, batchSize: batchSize, threads: compute.threads, compute: computeInfo, shard: shard,
            state: .running, units: mine.count)
        info.modalityProbabilities = modalityProbabilities
        info.embeddings = embeddings

        // The folder: continued when it holds this very run, started afresh when it is empty
        // (or --overwrite), refused when it holds another run or anything else (see RunFolder).
        let outURL = URL(fileURLWithPath: out)
        let state = try RunFolder.check(outURL, inputs: inputFiles())
        let runURL = outURL.appendingPathComponent("run.json")
        var continued: RunInfo?
        switch state {
        case .empty:
            break
        case .run(let previous) where !overwrite:
            let differences = info.differences(from: previous)
            guard differences.isEmpty else {
                throw PipelineError(.outputFolder, path: runURL.path,
                                    "the folder holds another run: " + differences.joined(separator: "; ")
                                    + ". Use --overwrite to replace it, or another --out")
            }
            continued = previous
        case .foreign(let names) where !overwrite:
            throw PipelineError(.outputFolder, path: outURL.path,
                "holds files that are not a telme run (\(names.joined(separator: ", "))"
                    + "\(names.count == 5 ? ", ..." : "")); telme writes only into an empty folder or one "
                    + "holding a telme run: choose another --out (--overwrite replaces telme's own files there)")
        case .run, .foreign:
            let replaced = RunFolder.ownFiles(in: outURL)
            if !replaced.isEmpty { note("--overwrite: replacing " + replaced.joined(separator: ", ")) }
        }
        let writer = try OutputWriter(directory: outURL, labels: file.model.labels, formats: formats, plan: plan,
                                      modalityProbabilities: modalityProbabilities)
        if continued == nil {
            try RunFolder.removeStale(in: outURL)
            // Into an empty folder, run.json first: the folder is a telme run from its first
            // byte on. (Over an earlier run, after the journal was emptied, below.)
            if case .empty = state { try info.write(to: runURL) }
        }
        let done = try writer.start(fresh: continued == nil)
        guard done.map(\.unit) == Array(mine.prefix(done.count)) else {
            throw PipelineError(.changedFolder, path: outURL.path + "/units.jsonl",
                                "the units done are not this run's first units "
                                + "(--overwrite starts again)")
        }
        info.unitsDone = done.count
        for entry in done { info.counts.add(contentsOf: entry.status) }
        if let continued {
            let notes = info.notes(continuing: continued)
            for n in notes { note(n) }
            let all = (continued.notes ?? []) + notes
            info.notes = all.isEmpty ? nil : all
        }
        let locator = locator(for: corpus, settings: settings)
        /// The index row of the record of utterance `i`, the `row`th of the folder.
        func indexRow(_ row: Int, _ i: Int) -> String {
            let u = corpus.utterances[i]
            let names = Annotator.names(of: u, in: corpus, locator: locator)
            return EmbeddingWriter.indexRow(row: row, source: names.source, transcript: names.transcript, u)
        }
        var vectors: EmbeddingWriter?
        if embeddings {
            let writer = try EmbeddingWriter(
                directory: outURL, text: description.text.projectionDim, audio: description.audio?.encoder.hiddenSize ?? 0,
                video: description.video?.encoder.hiddenSize ?? 0,
                fused: description.fusion == nil ? 0 : description.text.projectionDim)
            let committed = done.flatMap { Array($0.first..<($0.first + $0.count)) }
            try writer.start(committedIndex: committed.enumerated().map { indexRow($0, $1) })
            annotator.keepVectors = true
            vectors = writer
        }
        var rows = done.reduce(0) { $0 + $1.count }
        try info.write(to: runURL)
        if !done.isEmpty {
            note(done.count == mine.count ? "all \(mine.count) units are already done in \(out)"
                                          : "continuing: \(done.count) of \(mine.count) units are already done")
        }

        let hook = try SignalHook(ProcessInfo.processInfo.environment)
        var written = 0
        let stop = StopSignals.install()
        defer { stop.uninstall() }
        // The second signal ends the process at once: run.json says interrupted, with the
        // units committed so far.
        let committed = Committed(info)
        stop.onForcedStop {
            var last = committed.info
            last.state = .interrupted
            last.seconds = Date().timeIntervalSince(started)
            try? last.write(to: runURL)
        }
        writer.checkpoint = { point in
            hook?.reached(unit: written + 1, point: point.rawValue) { stop.received != nil }
        }
        let todo = Set(mine.dropFirst(done.count))
        let unitAt = Dictionary(uniqueKeysWithValues: plan.units.enumerated().map { ($1.lowerBound, $0) })
        let utterancesOfMine = mine.reduce(0) { $0 + plan.units[$1].count }
        let utterancesDone = done.reduce(0) { $0 + $1.count }
        var missingMedia = 0
        if !textOnly {
            let pending = todo.sorted().flatMap { Array(plan.units[$0]) }
            missingMedia = checkMediaExist(corpus, locator: locator, utterances: pending)
        }
        let summary = RunSummary(out: out, corpusUtterances: corpus.utterances.count, shard: shard,
                                 doneBefore: utterancesDone, textOnly: textOnly, started: started)
        let meter = ProgressMeter(total: utterancesOfMine, alreadyDone: utterancesDone,
                                  terminal: isatty(2) == 1, every: progressEvery)
        do {
            try annotator.annotate(corpus, locator: locator, readMedia: !textOnly,
                                   only: { todo.contains(unitAt[$0.lowerBound]!) },
                                   progress: { meter.update(Double(utterancesDone) + $0) }) { range, records in
                hook?.reached(unit: written + 1, point: "before") { stop.received != nil }
                try vectors?.append(records, index: range.enumerated().map { indexRow(rows + $0, $1) })
                rows += records.count
                try writer.write(unit: unitAt[range.lowerBound]!, records: records)
                written += 1
                info.unitsDone += 1
                info.counts.add(contentsOf: records.map(\.status))
                committed.info = info
                if let signal = stop.received, info.unitsDone < mine.count { throw Stopped(signal: signal) }
            }
        } catch let stopped as Stopped {
            meter.finish()
            info.state = .interrupted
            info.seconds = Date().timeIntervalSince(started)
            try info.write(to: runURL)
            note(summary.line(state: "stopped by \(StopSignals.name(stopped.signal))", counts: info.counts,
                              utterances: utterancesOfMine)
                 + "; the same command continues the run")
            throw ExitCode(128 + stopped.signal)
        }
        meter.finish()
        info.state = .complete
        info.seconds = Date().timeIntervalSince(started)
        try info.write(to: runURL)
        if missingMedia * 2 > info.counts.total - utterancesDone, missingMedia > 0 {
            warn("\(missingMedia) utterances had no media file: check --media")
        }
        note(summary.line(state: "done", counts: info.counts, utterances: utterancesOfMine))
        if info.counts.degraded + info.counts.failed > 0 { throw ExitCode(1) }
    }

    /// The run's description as of its last committed unit, for the signal handler's thread.
    final class Committed: @unchecked Sendable {
        private let lock = NSLock()
        private var value: RunInfo
        init(_ value: RunInfo) { self.value = value }
        var info: RunInfo {
            get { lock.withLock { value } }
            set { lock.withLock { value = newValue } }
        }
    }

    /// Thrown by the sink to end a run stopped by a signal.
    struct Stopped: Error {
        var signal: Int32
    }
}

/// The line that ends every run: what was annotated, how it went, how long it took and where
/// the outputs are.
///
/// `telme: done: 42 utterances: 40 ok, 2 degraded, 0 failed, 0 skipped; 0:01:23; output in annotations/`,
/// with `(29 done by an earlier run)` after a resume and `audio and video skipped (--text-only)`.
/// `skipped` counts the corpus's utterances that this folder does not hold (other shards', or
/// those not yet done when the run is stopped), so that the four counts add up to the corpus.
struct RunSummary {
    var out: String
    var corpusUtterances: Int
    var shard: Shard?
    var doneBefore: Int
    var textOnly: Bool
    var started: Date

    func line(state: String, counts: RunCounts, utterances: Int) -> String {
        var parts = ["\(state): \(counts.total) of \(corpusUtterances) utterances: \(counts.ok) ok, "
                     + "\(counts.degraded) degraded, \(counts.failed) failed, "
                     + "\(corpusUtterances - counts.total) skipped"
                     + (shard.map { " (shard \($0))" } ?? "")]
        if doneBefore > 0 { parts.append("\(doneBefore) done by an earlier run") }
        if textOnly { parts.append("audio and video skipped (--text-only)") }
        parts.append(clock(Date().timeIntervalSince(started)))
        parts.append("output in \(out)")
        return parts.joined(separator: "; ")
    }
}

/// Seconds as `h:mm:ss`.
func clock(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?:??:??" }
    let whole = Int(max(0, seconds).rounded())
    return String(format: "%d:%02d:%02d", whole / 3600, whole / 60 % 60, whole % 60)
}

/// Progress on stderr: utterances done of the folder's whole plan (a resumed run starts at what
/// the earlier runs did), elapsed time and an ETA from this process's rate. On a terminal, one
/// line redrawn in place at most twice a second; otherwise (a Slurm log, a file) a plain line
/// every `every` seconds and one at the end, or none when `every` is 0.
final class ProgressMeter {
    let total: Int
    let alreadyDone: Int
    let terminal: Bool
    let every: Double
    let start = Date()
    var last: Date
    var latest: Double
    var drawn = false

    init(total: Int, alreadyDone: Int, terminal: Bool, every: Double) {
        self.total = total
        self.alreadyDone = alreadyDone
        self.terminal = terminal
        self.every = every
        latest = Double(alreadyDone)
        last = start
    }

    /// `done`: utterances done so far, with the fraction of the one under way.
    func update(_ done: Double) {
        latest = done
        let now = Date()
        if terminal {
            guard now.timeIntervalSince(last) >= 0.5 else { return }
            write("\r" + text(now) + "   ")
        } else {
            guard every > 0, now.timeIntervalSince(last) >= every else { return }
            write("telme: " + text(now) + "\n")
        }
        last = now
    }

    /// `29/42 utterances (69%), elapsed 0:01:05, ETA 0:00:29`.
    func text(_ now: Date) -> String {
        let elapsed = now.timeIntervalSince(start)
        let doneHere = latest - Double(alreadyDone)
        // This process's rate; unknown before its first step (nothing is left once all is done).
        let eta = latest >= Double(total) ? clock(0)
            : doneHere > 0 ? clock((Double(total) - latest) * elapsed / doneHere) : "?:??:??"
        let percent = total > 0 ? Int((latest / Double(total) * 100).rounded(.down)) : 100
        return "\(Int(latest.rounded(.down)))/\(total) utterances (\(percent)%), elapsed \(clock(elapsed)), ETA \(eta)"
    }

    func finish() {
        if terminal {
            if drawn || latest > Double(alreadyDone) { write("\r" + text(Date()) + "\n") }
        } else if every > 0 {
            write("telme: " + text(Date()) + "\n")
        }
    }

    private func write(_ line: String) {
        drawn = true
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// A note on stderr (what the run is doing, not a problem).
func note(_ message: String) {
    FileHandle.standardError.write(Data("telme: \(Messages.escaped(message))\n".utf8))
}

/// A warning line on stderr.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("telme: warning: \(Messages.escaped(message))\n".utf8))
}

extension Settings.MissingMedia: ExpressibleByArgument {}
extension Settings.SpeakerNumbering: ExpressibleByArgument {}
extension Settings.FusionOrder: ExpressibleByArgument {}
extension Settings.ChannelOrder: ExpressibleByArgument {}
extension Settings.BatchSemantics: ExpressibleByArgument {}
