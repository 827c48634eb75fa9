import ArgumentParser
import Foundation
import TelmeFormat
import TelmeModels
import TelmePipeline
import TelmeTensor

/// `telme annotate`: one emotion record per utterance of a corpus.
struct Annotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "annotate",
        abstract: "Annotate every utterance of a corpus with an emotion.",
        discussion: """
            Writes annotations.jsonl and annotations.csv (see Schemas/annotation-record.schema.json) and \
            run.json to the output folder, dialogue by dialogue as they finish. Exit status: 0 when every \
            utterance is ok, 1 when some were degraded or failed, 2 for usage, model or corpus errors.
            """)

    @Option(help: "The converted model (.telme).")
    var model: String

    @Option(help: "The corpus: a transcript CSV (meld, iemocap) or a folder of episodes with transcripts.")
    var corpus: String

    @Option(help: "Corpus layout: auto, meld, iemocap or episodes.")
    var layout: LayoutChoice = .auto

    @Option(help: ArgumentHelp("Media folder: MELD clips dia{D}_utt{U}.mp4, or the root of the CSV's relative paths.",
                               discussion: "Default: the CSV's Video_Path / Wav_Path, relative to the CSV's folder."))
    var media: String?

    @Flag(help: "Annotate from the transcript alone, even when the corpus names media.")
    var textOnly = false

    @Option(help: "Episodes: a new dialogue starts after a silence longer than this many seconds.")
    var dialogueGap: Double = EpisodeCorpus.defaultDialogueGap

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Comma-separated output formats: jsonl, csv, json (one document per episode or dialogue).")
    var format: String = "jsonl,csv"

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

    @Option(help: "Utterances per teacher batch, within one dialogue (does not change results).")
    var batchSize: Int = 8

    @Option(help: "Threads for the matrix products.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Show progress on stderr even when it is not a terminal.")
    var progress = false

    enum LayoutChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, meld, iemocap, episodes
    }

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let sampleRate, sampleRate < 1000 || sampleRate > 384_000 {
            throw ValidationError("--sample-rate must be between 1000 and 384000 Hz")
        }
        if let fusionHeads, fusionHeads < 1 { throw ValidationError("--fusion-heads must be at least 1") }
        if let betaShift, !betaShift.isFinite { throw ValidationError("--beta-shift must be a number") }
        guard dialogueGap.isFinite, dialogueGap >= 0 else { throw ValidationError("--dialogue-gap must be ≥ 0") }
        _ = try formats()
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

    /// Reads the corpus of any layout; warnings go to stderr.
    func readCorpus() throws -> Corpus {
        let url = URL(fileURLWithPath: corpus)
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        if layout == .episodes || (layout == .auto && exists && isFolder.boolValue) {
            let episodes = try EpisodeCorpus.read(folder: url, dialogueGap: dialogueGap)
            for message in episodes.messages { warn(message) }
            return Corpus(file: corpus, layout: .episodes, utterances: episodes.utterances)
        }
        var read = try Corpus(contentsOf: url, layout: CorpusLayout(rawValue: layout.rawValue))
        read.file = corpus  // records name the transcript as the user did
        for warning in read.warnings { warn(warning.description) }
        return read
    }

    /// Where the media are, or nil for a transcript-only run.
    func locator(for corpus: Corpus, settings: Settings) -> MediaLocator? {
        guard !textOnly else { return nil }
        let transcriptFolder = (self.corpus as NSString).deletingLastPathComponent
        let folder = transcriptFolder.isEmpty ? "." : transcriptFolder
        switch corpus.layout {
        case .meld:
            return MediaLocator(layout: .meld, root: folder, clipFolder: media,
                                videoMarginSeconds: settings.videoMarginSeconds)
        case .iemocap:
            return MediaLocator(layout: .iemocap, root: media ?? folder,
                                videoMarginSeconds: settings.videoMarginSeconds)
        case .episodes:
            return MediaLocator(layout: .episodes, root: self.corpus, videoMarginSeconds: 0)
        }
    }

    func run() async throws {
        let started = Date()
        Gemm.setThreads(threads)
        let file = try TelmeFile(contentsOf: URL(fileURLWithPath: model))
        let description = try description(for: file.model)
        let settings = settings(for: file.model)
        let corpus = try readCorpus()
        let labels = Set(description.labels)
        for u in corpus.utterances {
            if let gold = u.gold, !labels.contains(gold) {
                warn("\(corpus.file):\(u.line): gold label \"\(gold)\" is not one of the model's labels")
            }
        }
        let annotator = try Annotator(model: file, description: description, settings: settings, batchSize: batchSize)
        let outURL = URL(fileURLWithPath: out)
        // Episodes group their json documents by episode (the dialogue id is "<episode>#<n>").
        let episodes = corpus.layout == .episodes
        let writer = try OutputWriter(directory: outURL, labels: file.model.labels, formats: try formats()) { record in
            episodes ? String(record.dialogue[..<(record.dialogue.lastIndex(of: "#") ?? record.dialogue.endIndex)])
                     : record.dialogue
        }
        let meter = ProgressMeter(total: corpus.utterances.count, enabled: progress || isatty(2) == 1)
        let counts = try annotator.annotate(corpus, locator: locator(for: corpus, settings: settings),
                                            progress: meter.update) { _, records in try writer.append(records) }
        try writer.finish()
        meter.finish()
        let run = RunInfo(
            tool: "telme", version: TelmeVersion.string, commandLine: CommandLine.arguments,
            model: .init(path: file.url.path, fingerprint: file.fingerprint, fileSize: file.fileSize,
                         sourceFile: file.provenance.sourceFile,
                         sourceSHA256: file.provenance.sourceSHA256, dtype: file.dtype.rawValue,
                         dataset: file.model.dataset, labels: file.model.labels),
            fusion: description.fusion, settings: settings, corpus: .init(path: corpus.file, layout: corpus.layout.rawValue,
                                              utterances: corpus.utterances.count),
            counts: counts, seconds: Date().timeIntervalSince(started))
        try run.write(to: outURL.appendingPathComponent("run.json"))
        if counts.degraded + counts.failed > 0 { throw ExitCode(1) }
    }
}

/// `run.json`: what produced an output folder.
struct RunInfo: Encodable {
    struct Model: Encodable {
        var path: String
        /// `TelmeFile.fingerprint`: identifies the model file's content.
        var fingerprint: String
        var fileSize: Int
        var sourceFile: String
        var sourceSHA256: String
        var dtype: String
        var dataset: String
        var labels: [String]
    }

    struct CorpusInfo: Encodable {
        var path: String
        var layout: String
        var utterances: Int
    }

    var tool: String
    var version: String
    var commandLine: [String]
    var model: Model
    var fusion: FusionConfig?
    var settings: Settings
    var corpus: CorpusInfo
    var counts: RunCounts
    var seconds: Double

    func write(to url: URL) throws {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let tmp = url.deletingLastPathComponent().appendingPathComponent(".run.json.tmp")
        try encoder.encode(self).write(to: tmp)
        guard rename(tmp.path, url.path) == 0 else {
            throw PipelineError("\(url.path): cannot write: \(String(cString: strerror(errno)))")
        }
    }
}

/// Progress on stderr: utterances done, per second, time left.
final class ProgressMeter {
    let total: Int
    let enabled: Bool
    let start = Date()
    var last = Date.distantPast

    init(total: Int, enabled: Bool) {
        self.total = total
        self.enabled = enabled
    }

    func update(_ done: Int) {
        guard enabled, Date().timeIntervalSince(last) >= 0.5 || done == total else { return }
        last = Date()
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let rate = Double(done) / elapsed
        let eta = rate > 0 ? Double(total - done) / rate : 0
        let line = String(format: "\r%ld/%ld utterances, %.1f/s, ETA %.0f s   ", done, total, rate, eta)
        FileHandle.standardError.write(Data(line.utf8))
    }

    func finish() {
        if enabled { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}

/// A warning line on stderr.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("telme: warning: \(message)\n".utf8))
}

extension Settings.MissingMedia: ExpressibleByArgument {}
extension Settings.SpeakerNumbering: ExpressibleByArgument {}
extension Settings.FusionOrder: ExpressibleByArgument {}
extension Settings.ChannelOrder: ExpressibleByArgument {}
extension Settings.BatchSemantics: ExpressibleByArgument {}
