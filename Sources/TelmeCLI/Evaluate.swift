import ArgumentParser
import Foundation
import TelmeCorpus
import TelmeEvaluation

/// `telme evaluate`: scores an annotation folder against gold labels.
struct Evaluate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Score an annotation run against gold labels.",
        discussion: """
            Reads annotations.jsonl and run.json (the class order) from a folder written by \
            telme annotate and prints accuracy, weighted F1 (the TelME paper's metric, as \
            sklearn's precision_recall_fscore_support(average='weighted') computes it), macro F1, \
            per-class precision, recall, F1 and support, and the confusion matrix (rows gold, \
            columns predicted). Gold labels come from the records, or with --gold from a corpus \
            CSV matched by dialogue and utterance index, or from episode transcripts (a folder or \
            one .srt/.vtt/.json, with [joy] tags or an emotion column) matched by each record's \
            transcript and line. Failed records and records without a \
            gold label are counted and left out of the scores. Also writes evaluation.json to the \
            folder. Exit status: 0 on success, 2 for unreadable or broken files.
            """)

    @Argument(help: "The output folder of telme annotate.", transform: { URL(fileURLWithPath: $0) })
    var directory: URL

    @Option(help: "Gold labels instead of the records': a corpus CSV with an Emotion column, or episode transcripts (a folder, or one transcript) with gold labels.")
    var gold: String?

    @Option(help: "Layout of --gold: auto, meld, iemocap or episodes (auto: a folder or .srt/.vtt/.json is episodes).")
    var layout: LayoutChoice = .auto

    @OptionGroup var output: JSONOption

    @Flag(help: "Score gold labels that are not model labels as classes never predicted (refused otherwise).")
    var allowUnknownGold = false

    @Flag(help: "Do not write evaluation.json to the folder.")
    var noWrite = false

    func run() async throws {
        let evaluation: Evaluation
        let input = gold.map { CorpusInput(corpus: $0, layout: layout == .episodes ? .episodes : .auto, dialogueGap: 5,
                                           textOnly: true) }
        var isFolder: ObjCBool = false
        if let gold, let input, layout == .episodes || (layout == .auto && (input.isEpisodeTranscript
            || (FileManager.default.fileExists(atPath: gold, isDirectory: &isFolder) && isFolder.boolValue))) {
            let read = try input.read()
            evaluation = try Evaluation.evaluate(directory: directory, goldEpisodes: read.corpus, goldPath: gold,
                                                 allowUnknownGold: allowUnknownGold)
        } else {
            evaluation = try Evaluation.evaluate(
                directory: directory, goldCSV: gold.map { URL(fileURLWithPath: $0) },
                layout: layout == .auto ? nil : CorpusLayout(rawValue: layout.rawValue), allowUnknownGold: allowUnknownGold)
        }
        if !noWrite { try evaluation.write(to: directory.appendingPathComponent("evaluation.json")) }
        let printed = output.json ? try evaluation.json() : Data(evaluation.text().utf8)
        FileHandle.standardOutput.write(printed)
    }
}
