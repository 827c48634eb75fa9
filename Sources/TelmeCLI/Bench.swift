import ArgumentParser
import Foundation
import TelmeBench

/// `telme bench`: in one process, OpenBLAS `sgemm` on the encoders' matrix shapes, model
/// start-up, and each encoder alone on synthetic inputs (Tools/bench/compare.py compares it with
/// PyTorch).
struct Bench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure sgemm, model start-up and each encoder's speed on synthetic inputs.",
        discussion: """
            In order: the model is opened (mmap + validation, checksums included), its heads are \
            built and one synthetic utterance (128 tokens, the audio case, one clip, fusion) runs: \
            that is the time to first result. Then cblas_sgemm (the OpenBLAS telme links) on every \
            matrix shape the encoders use and on a large square; then each encoder case: --warmup \
            untimed runs, then the median of --repeat. GFLOP/s count the model's nominal matrix \
            products (see Sources/TelmeBench/EncoderWork.swift); the sgemm fraction divides an encoder's rate by the \
            rate sgemm reaches on that encoder's own shapes. Inputs are deterministic (the same \
            formulas as Tools/bench/compare.py).
            """)

    @Option(help: "The converted model (.telme).")
    var model: String

    @OptionGroup var compute: ComputeOptions

    @Option(name: .customLong("repeat"), help: "Timed runs of each figure (the median is reported).")
    var repeats: Int = 5

    @Option(help: "Untimed runs before the timed ones.")
    var warmup: Int = 1

    @Option(help: "Comma-separated encoder cases: text128, text512, audio, video.")
    var cases: String = BenchCase.allCases.map(\.rawValue).joined(separator: ",")

    @Option(help: "Audio samples of the audio case (3 s at 22050 Hz).")
    var audioSamples: Int = 66_150

    @Option(help: "Side of the large square sgemm.")
    var square: Int = 2048

    @Flag(help: "After each case's timed runs, one more run timed per kind of operation (linear, attention, ...).")
    var breakdown = false

    @OptionGroup var output: JSONOption

    @Option(help: "Also write the JSON report to this file.")
    var jsonOut: String?

    func validate() throws {
        guard repeats >= 1 else { throw ValidationError("--repeat must be at least 1") }
        guard warmup >= 0 else { throw ValidationError("--warmup must be ≥ 0") }
        guard square >= 1 else { throw ValidationError("--square must be at least 1") }
        guard audioSamples >= 1 else { throw ValidationError("--audio-samples must be at least 1") }
        _ = try selectedCases()
    }

    func selectedCases() throws -> [BenchCase] {
        try cases.split(separator: ",").map { name in
            let trimmed = name.trimmingCharacters(in: .whitespaces)
            guard let c = BenchCase(rawValue: trimmed) else {
                let known = BenchCase.allCases.map(\.rawValue).joined(separator: ", ")
                throw ValidationError("unknown case \"\(trimmed)\"; known: \(known)")
            }
            return c
        }
    }

    func run() async throws {
        let benchmark = Benchmark(repeats: repeats, warmup: warmup, cases: try selectedCases(), audioSamples: audioSamples,
                                  square: square, breakdown: breakdown)
        let report = try benchmark.run(version: TelmeVersion.string, compute: try compute.apply()) { try openModel(model) }
        let encoded = try report.json()
        if let jsonOut { try encoded.write(to: URL(fileURLWithPath: jsonOut)) }
        if output.json {
            FileHandle.standardOutput.write(encoded)
            print()
        } else {
            print(report.table())
        }
    }
}
