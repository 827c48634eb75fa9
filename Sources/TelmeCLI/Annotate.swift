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

    @OptionGroup var corpusOptions: CorpusOptions

    @Flag(help: "Annotate from the transcript alone: audio and video are skipped (status ok), and episode transcripts without a video are annotated too.")
    var textOnly = false

    @Option(name: [.customShort("o"), .long, .customLong("output")], help: "Output folder.")
    var out: String

    @Option(help: "Comma-separated output formats: jsonl, csv, json (one document per episode or dialogue).")
    var format: String = "jsonl,csv"

    @Flag(help: "The CSV also holds each model's own class probabilities (text_p_<label>, audio_p_<label>, video_p_<label>), as the JSON records always do.")
    var modalityProbabilities = false

    @Flag(help: "Also write embeddings/: each model's vector per utterance (text.npy, audio.npy, video.npy, fused.npy: float32, one row per record) and index.csv.")
    var embeddings = false

    @OptionGroup var settingsOptions: SettingsOptions

    @Option(help: "independent (default) or official-batch4 (the authors' batches of 4, order-dependent).")
    var batchSemantics: Settings.BatchSemantics?

    @Option(help: "A missing or unreadable medium: text-only (the teacher alone) or zero (the authors' zero input).")
    var missingMedia: Settings.MissingMedia?

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

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
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
        var s = settingsOptions.applied(to: model.settings)
        if let batchSemantics { s.batchSemantics = batchSemantics }
        if let missingMedia { s.missingMedia = missingMedia }
        return s
    }

    /// The model's description with this command's fusion overrides.
    func description(for model: ModelDescription) throws -> ModelDescription {
        var d = model
        let (fusionHeads, betaShift) = (settingsOptions.fusionHeads, settingsOptions.betaShift)
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
        corpusOptions.input(corpus, textOnly: textOnly)
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

    func run() async throws {
        let started = Date()
        let computeInfo = try compute.apply()
        let file = try openModel(model)
        let description = try description(for: file.model)
        let settings = settings(for: file.model)
        let corpus = try readCorpus()
        warnUnknownGold(corpus, labels: Set(description.labels))
        let annotator = try Annotator(model: file, description: description, settings: settings, batchSize: batchSize)
        let shard = try resolveShard(settings)
        let plan = RunPlan(corpus: corpus, semantics: settings.batchSemantics)
        let units = plan.units(of: shard)
        let formats = try formats()
        let info = runInfo(file: file, description: description, settings: settings, corpus: corpus, formats: formats,
                           compute: computeInfo, shard: shard, units: units.count)
        let run = try AnnotationRun(
            annotator: annotator, description: description, corpus: corpus, plan: plan, units: units,
            locator: locator(for: corpus, settings: settings), info: info,
            output: .init(folder: out, formats: formats, modalityProbabilities: modalityProbabilities,
                          embeddings: embeddings, overwrite: overwrite),
            inputFiles: inputFiles(), readMedia: !textOnly, started: started, messages: .init(note: note, warn: warn))
        try execute(run, shard: shard, started: started)
    }

    /// Runs what is left of `run` with the signals handled (the first stops after the unit under
    /// way, a second at once), then prints the summary line; throws the exit status when it is
    /// not 0.
    func execute(_ run: AnnotationRun, shard: Shard?, started: Date) throws {
        let hook = try SignalHook(ProcessInfo.processInfo.environment)
        let stop = StopSignals.install()
        defer { stop.uninstall() }
        // The second signal ends the process at once: run.json says interrupted, with the
        // units committed so far.
        stop.onForcedStop { run.markInterrupted() }
        let summary = RunSummary(out: out, corpusUtterances: run.corpus.utterances.count, shard: shard,
                                 doneBefore: run.utterancesDone, textOnly: textOnly, started: started)
        let meter = ProgressMeter(total: run.utterances, alreadyDone: run.utterancesDone,
                                  terminal: isatty(2) == 1, every: progressEvery)
        let outcome = try run.execute(
            stopRequested: { stop.received },
            checkpoint: { unit, point in hook?.reached(unit: unit, point: point) { stop.received != nil } },
            progress: meter.update)
        meter.finish()
        let counts = run.info.counts
        if case .stopped(let signal) = outcome {
            note(summary.line(state: "stopped by \(StopSignals.name(signal))", counts: counts, utterances: run.utterances)
                 + "; the same command continues the run")
            throw ExitCode(128 + signal)
        }
        if run.mostMediaMissing { warn("\(run.missingMedia) utterances had no media file: check --media") }
        note(summary.line(state: "done", counts: counts, utterances: run.utterances))
        if counts.degraded + counts.failed > 0 { throw ExitCode(1) }
    }

    /// Warns about gold labels that are not the model's (evaluate would refuse them).
    func warnUnknownGold(_ corpus: Corpus, labels: Set<String>) {
        let goldWarnings = WarningSummary()
        for u in corpus.utterances {
            if let gold = u.gold, !labels.contains(gold) {
                goldWarnings.warn("\(u.transcript.map { input.root + "/" + $0 } ?? corpus.file):\(u.line): gold label "
                                  + "\"\(gold)\" is not one of the model's labels")
            }
        }
        goldWarnings.finish()
    }

    /// The description of a fresh run of this command (`run.json`).
    func runInfo(file: TelmeFile, description: ModelDescription, settings: Settings, corpus: Corpus,
                 formats: [OutputFormat], compute computeInfo: ComputeInfo, shard: Shard?, units: Int) -> RunInfo {
        var info = RunInfo(
            version: TelmeVersion.string, commandLine: CommandLine.arguments,
            model: .init(path: file.url.path, fingerprint: file.fingerprint, fileSize: file.fileSize,
                         sourceFile: file.provenance.sourceFile, sourceSHA256: file.provenance.sourceSHA256,
                         dtype: file.dtype.rawValue, dataset: file.model.dataset, labels: file.model.labels),
            fusion: description.fusion, settings: settings,
            corpus: .init(path: corpus.file, layout: corpus.layout.rawValue, utterances: corpus.utterances.count,
                          digest: RunPlan.digest(of: corpus), media: corpusOptions.media,
                          dialogueGap: corpusOptions.dialogueGap, textOnly: textOnly,
                          allowOutsideRoot: corpusOptions.allowOutsideRoot, canonicalPath: MediaLocator.resolved(corpus.file),
                          canonicalMedia: corpusOptions.media.map(MediaLocator.resolved)),
            formats: formats, batchSize: batchSize, threads: compute.threads, compute: computeInfo, shard: shard,
            state: .running, units: units)
        info.modalityProbabilities = modalityProbabilities
        info.embeddings = embeddings
        return info
    }
}

extension Settings.MissingMedia: ExpressibleByArgument {}
extension Settings.BatchSemantics: ExpressibleByArgument {}
