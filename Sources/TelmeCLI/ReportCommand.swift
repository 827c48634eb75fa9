import ArgumentParser
import Foundation
import TelmeReport

/// `telme report`: one self-contained HTML page about an annotation folder.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write one self-contained HTML page about an annotation run.",
        discussion: """
            Reads run.json and annotations.jsonl from a folder written by telme annotate (or \
            telme merge) and writes one HTML file that needs nothing else (no network): per \
            dialogue or episode an emotion timeline (utterances coloured by label, confidence as \
            opacity, one lane per speaker; hover for the text and every probability), the class \
            distribution overall and per speaker, the modality status counts, telme evaluate's \
            scores and confusion matrix when gold labels exist, and the provenance from run.json. \
            Exit status: 0 on success, 2 for unreadable or broken files.
            """)

    @Argument(help: "The output folder of telme annotate.", transform: { URL(fileURLWithPath: $0) })
    var directory: URL

    @Option(name: .shortAndLong, help: "The HTML file to write (default: report.html in the folder).")
    var output: String?

    @Option(help: "The page's title (default: the folder's name).")
    var title: String?

    @Option(help: "A corpus CSV whose Emotion column holds the gold labels (as telme evaluate --gold).")
    var gold: String?

    func run() async throws {
        let report = try RunReport(directory: directory, title: title, goldCSV: gold.map { URL(fileURLWithPath: $0) })
        let html = try report.html()
        let url = output.map { URL(fileURLWithPath: $0) } ?? directory.appendingPathComponent("report.html")
        try Data(html.utf8).write(to: url, options: .atomic)
        let count = report.dialogues.reduce(0) { $0 + $1.utterances.count }
        print("wrote \(url.path): \(count) utterances, \(report.dialogues.count) dialogues, \(html.utf8.count / 1024) KiB")
    }
}
