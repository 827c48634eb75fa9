import ArgumentParser
import Foundation
import TelmeFormat
import TelmePipeline

/// `telme inspect`: checks a model (a `.telme` file) and prints what it holds; corpora are
/// checked by `telme validate`.
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Check a model: validate a .telme file and print its description (a corpus: telme validate).",
        discussion: """
            Prints the format version, dtype, dataset, labels, every encoder config and setting, \
            the provenance, the tensor and parameter counts and the file size. The whole file is \
            validated first (layout, shapes against the architecture, checksums); a refused file \
            gives a one-line reason on stderr and a non-zero exit status.
            """)

    @Argument(help: "The .telme model file.", transform: { URL(fileURLWithPath: $0) })
    var model: URL

    @OptionGroup var output: JSONOption

    @Flag(help: "Also list the tensor table (name, dtype, shape, offset, byte length, checksum).")
    var tensors = false

    @Flag(help: "Skip the tensor data checksums (the header checksum is still verified).")
    var skipChecksums = false

    func run() async throws {
        let file = try openModel(model.path, verifyChecksums: !skipChecksums)
        // What annotate does with the file next (tokenizer, networks): a file inspect accepts,
        // annotate can use.
        _ = try Annotator(model: file, settings: file.model.settings)
        let report = TelmeFileReport(file, includeTensors: tensors)
        print(output.json ? try report.json() : try report.text())
    }
}
