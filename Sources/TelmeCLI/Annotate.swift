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

    @Option(help: "The corpus transcript (CSV).")
    var corpus: String

    @Option(help: "Corpus layout: auto, meld or iemocap.")
    var layout: LayoutChoice = .auto

    @Option(help: "Output folder.")
    var out: String

    @Option(help: "Comma-separated output formats: jsonl, csv.")
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

    @Option(help: "Utterances per teacher batch, within one dialogue (does not change results).")
    var batchSize: Int = 8

    @Option(help: "Threads for the matrix products.")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount

    @Flag(help: "Show progress on stderr even when it is not a terminal.")
    var progress = false

    enum LayoutChoice: String, ExpressibleByArgument, CaseIterable {
        case auto, meld, iemocap
    }

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        if let sampleRate, sampleRate < 1000 || sampleRate > 384_000 {
            throw ValidationError("--sample-rate must be between 1000 and 384000 Hz")
        }
        _ = try formats()
    }

    func formats() throws -> [OutputFormat] {
        try format.split(separator: ",").map { name in
            guard let f = OutputFormat(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("unknown output format \"\(name)\"; known: jsonl, csv")
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
        return s
    }

    func run() async throws {
        let started = Date()
        Gemm.setThreads(threads)
        let file = try TelmeFile(contentsOf: URL(fileURLWithPath: model))
        let settings = settings(for: file.model)
        let corpusURL = URL(fileURLWithPath: corpus)
        var corpus = try Corpus(contentsOf: corpusURL, layout: CorpusLayout(rawValue: layout.rawValue))
        corpus.file = self.corpus  // records name the transcript as the user did
        for warning in corpus.warnings { FileHandle.standardError.write(Data("telme: warning: \(warning)\n".utf8)) }
        let labels = Set(file.model.labels)
        for u in corpus.utterances {
            if let gold = u.gold, !labels.contains(gold) {
                FileHandle.standardError.write(Data(
                    "telme: warning: \(corpus.file):\(u.line): gold label \"\(gold)\" is not one of the model's labels\n".utf8))
            }
        }
        let annotator = try Annotator(model: file, settings: settings, batchSize: batchSize)
        let outURL = URL(fileURLWithPath: out)
        let writer = try OutputWriter(directory: outURL, labels: file.model.labels, formats: try formats())
        let meter = ProgressMeter(total: corpus.utterances.count, enabled: progress || isatty(2) == 1)
        let counts = try annotator.annotate(corpus, progress: meter.update, sink: writer.append)
        meter.finish()
        let run = RunInfo(
            tool: "telme", version: TelmeVersion.string, commandLine: CommandLine.arguments,
            model: .init(path: file.url.path, sourceFile: file.provenance.sourceFile,
                         sourceSHA256: file.provenance.sourceSHA256, dtype: file.dtype.rawValue,
                         dataset: file.model.dataset, labels: file.model.labels),
            settings: settings, corpus: .init(path: corpus.file, layout: corpus.layout.rawValue,
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

extension Settings.SpeakerNumbering: ExpressibleByArgument {}
extension Settings.FusionOrder: ExpressibleByArgument {}
extension Settings.ChannelOrder: ExpressibleByArgument {}
extension Settings.BatchSemantics: ExpressibleByArgument {}
