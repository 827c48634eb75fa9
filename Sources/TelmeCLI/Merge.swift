import ArgumentParser
import Foundation
import TelmePipeline

/// `telme merge`: the output folders of shards combined into one.
struct Merge: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "merge",
        abstract: "Combine the output folders of shards (telme annotate --shard) into one.",
        discussion: """
            The records go in corpus order, byte for byte as one run over the whole corpus writes them \
            (run.json aside). The folders must come from the same model, settings and corpus. Missing \
            units and failed utterances are listed on stderr. Exit status: 0 when complete and every \
            utterance is ok, 1 when complete with degraded or failed utterances, 2 for usage errors or \
            folders that do not belong together, 3 when utterances are missing (the merged folder is \
            still written, with what there is).
            """)

    @Argument(help: "The shards' output folders.")
    var folders: [String]

    @Option(name: [.customShort("o"), .long, .customLong("output")], help: "The merged output folder.")
    var out: String

    @Option(help: "The corpus the shards annotated. Default: the one their run.json names.")
    var corpus: String?

    @Flag(help: "Replace what --out holds when it is not an earlier merge of the same folders.")
    var overwrite = false

    /// How many missing or failed utterances are listed one by one.
    static let listed = 20

    func run() async throws {
        let urls = folders.map { URL(fileURLWithPath: $0) }
        guard let first = urls.first else { throw ValidationError("no folders to merge") }
        let info = try RunInfo.read(from: first.appendingPathComponent("run.json"))
        let layout = LayoutChoice(rawValue: info.corpus.layout) ?? .auto
        let corpus = try Annotate.readCorpus(CorpusInput(corpus: self.corpus ?? info.corpus.path, layout: layout,
                                                         dialogueGap: info.corpus.dialogueGap,
                                                         allowOutsideRoot: info.corpus.allowOutsideRoot,
                                                         textOnly: info.corpus.textOnly))
        // --out: empty, or an earlier merge of these very folders (a merge is simply run again);
        // anything else only with --overwrite (see RunFolder).
        let outURL = URL(fileURLWithPath: out)
        switch try RunFolder.check(outURL, inputs: [corpus.file]) {
        case .empty:
            break
        case .run(let previous) where previous.mergedFrom == urls.map(\.path):
            break
        case .run where !overwrite:
            throw PipelineError(.outputFolder, path: outURL.path,
                                "holds another run (not a merge of these folders); choose another "
                                + "--out, or --overwrite to replace it")
        case .foreign(let names) where !overwrite:
            throw PipelineError(.outputFolder, path: outURL.path,
                                "holds files that are not a telme run (\(names.joined(separator: ", "))); "
                                + "choose another --out (--overwrite replaces telme's own files there)")
        case .run, .foreign:
            let replaced = RunFolder.ownFiles(in: outURL)
            if !replaced.isEmpty { note("--overwrite: replacing " + replaced.joined(separator: ", ")) }
        }
        try RunFolder.removeStale(in: outURL)
        let report = try ShardMerge.merge(urls, into: URL(fileURLWithPath: out), corpus: corpus,
                                          commandLine: CommandLine.arguments)
        let counts = report.info.counts
        var lines: [String] = []
        for range in report.missing {
            let u = corpus.utterances[range.lowerBound], last = corpus.utterances[range.upperBound - 1]
            lines.append("missing: dialogue \(u.dialogue), \(range.count) utterance\(range.count == 1 ? "" : "s") "
                         + "(\(corpus.file):\(u.line)\(range.count > 1 ? "-\(last.line)" : ""))")
        }
        for i in report.failed {
            let u = corpus.utterances[i]
            lines.append("failed: dialogue \(u.dialogue) utterance \(u.index) (\(corpus.file):\(u.line))")
        }
        for line in lines.prefix(Self.listed) { note(line) }
        if lines.count > Self.listed { note("... and \(lines.count - Self.listed) more") }
        let missing = report.missing.reduce(0) { $0 + $1.count }
        note("merged \(folders.count) folder\(folders.count == 1 ? "" : "s") into \(out): \(counts.total) of "
             + "\(corpus.utterances.count) utterances (\(counts.ok) ok, \(counts.degraded) degraded, "
             + "\(counts.failed) failed, \(missing) missing)")
        if missing > 0 { throw ExitCode(3) }
        if counts.degraded + counts.failed > 0 { throw ExitCode(1) }
    }
}
