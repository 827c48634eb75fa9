import ArgumentParser
import Foundation
import TelmeFormat
import TelmeImport
import TelmeModels

/// `telme convert`: an HDF5 export of the authors' checkpoints -> a checked `.telme` model.
struct Convert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "convert",
        abstract: "Convert an HDF5 export (Scripts/export_hdf5.py) into a .telme model.",
        discussion: """
            Every tensor is checked against the architecture its configs describe: the known-unused \
            checkpoint tensors (position_ids, the pooler, masked_spec_embed) are dropped; missing, \
            unknown or misshapen tensors and NaN/Inf weights are refused. Settings not stored in the \
            checkpoints take the authors' values for the dataset unless given here.
            """)

    @Argument(help: "The HDF5 export.", transform: { URL(fileURLWithPath: $0) })
    var input: URL

    @Option(name: [.short, .long, .customLong("out")], help: "The .telme file to write (replaced only when the conversion succeeds).",
            transform: { URL(fileURLWithPath: $0) })
    var output: URL

    @Flag(help: "Replace --output even when it is a file other than a .telme model.")
    var overwrite = false

    @Option(help: "Stored weight type: f32, f16 or bf16.")
    var dtype: String = "f32"

    @OptionGroup var settingsOptions: SettingsOptions

    func run() async throws {
        let report = try TelmeImporter.convert(input: input, output: output, options: try options())
        print(Self.summary(report))
    }

    /// The command line's choices as conversion options.
    func options() throws -> ConversionOptions {
        guard let dtype = TensorDType(rawValue: dtype), dtype.isFloat else {
            throw ValidationError("--dtype must be f32, f16 or bf16, not \"\(dtype)\"")
        }
        let o = settingsOptions
        return ConversionOptions(
            dtype: dtype, fusionHeads: o.fusionHeads, betaShift: o.betaShift, speakerNumbering: o.speakerNumbering,
            fusionOrder: o.fusionOrder, channelOrder: o.channelOrder, sampleRate: o.sampleRate,
            converterVersion: TelmeVersion.string, overwrite: overwrite)
    }

    static func summary(_ report: ConversionReport) -> String {
        let model = report.model
        var parts = ["teacher"]
        if model.audio != nil { parts.append("audio") }
        if model.video != nil { parts.append("video") }
        if model.fusion != nil { parts.append("fusion") }
        var lines = [
            "\(report.output.path): \(model.dataset), \(parts.joined(separator: " + ")), \(model.labels.count) labels",
            "  \(report.tensorCount) tensors, \(report.parameterCount) weights as \(report.dtype.rawValue), "
                + "\(report.outputBytes) bytes",
        ]
        if !report.dropped.isEmpty {
            lines.append("  dropped (unused at inference): \(report.dropped.joined(separator: ", "))")
        }
        if let fusion = model.fusion {
            lines.append("  fusion: \(fusion.numHeads) heads, beta_shift \(fusion.betaShift)")
        }
        lines.append("  source sha256 \(report.sourceSHA256)")
        return lines.joined(separator: "\n")
    }
}
