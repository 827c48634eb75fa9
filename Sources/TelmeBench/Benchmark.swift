import Foundation
import TelmeFormat
import TelmeModels
import TelmePipeline
import TelmeTensor

/// `telme bench`'s measurements, in one process: model start-up (open, build, one synthetic
/// utterance), the matrix products of every shape the encoders use and of a large square on
/// each library, then each encoder case alone (`--warmup` untimed runs, then `--repeat` timed).
public struct Benchmark {
    public var repeats: Int
    public var warmup: Int
    /// The encoder cases to run (those the model has: a text-only model runs no audio case).
    public var cases: [BenchCase]
    /// Samples of the audio case's clip.
    public var audioSamples: Int
    /// Side of the large square product.
    public var square: Int
    /// After each case's timed runs, one more timed per kind of operation (`Profile`).
    public var breakdown: Bool

    public init(repeats: Int, warmup: Int, cases: [BenchCase], audioSamples: Int, square: Int, breakdown: Bool) {
        self.repeats = repeats
        self.warmup = warmup
        self.cases = cases
        self.audioSamples = audioSamples
        self.square = square
        self.breakdown = breakdown
    }

    var timing: BenchTiming { BenchTiming(repeats: repeats, warmup: warmup) }

    /// Measures the model `open` returns (its opening is timed); `version` and `compute` go
    /// into the report as they are.
    public func run(version: String, compute: ComputeInfo, open: () throws -> TelmeFile) throws -> BenchReport {
        let start = ContinuousClock.now
        let file = try open()
        let opened = ContinuousClock.now
        let heads = try BenchHeads(file: file)
        let built = ContinuousClock.now
        let inputs = BenchInputs(model: file.model, audioSamples: audioSamples)
        try heads.utterance(inputs)
        let first = ContinuousClock.now

        let work = cases.filter { heads.supports($0) }.map { ($0, inputs.work(for: $0)) }
        var rates = SgemmRates(timing: timing)
        let squareShape = MatmulShape(square, square, square)
        let calls = Array(Set(work.flatMap { $0.1.map(\.call) }))
            .sorted { ($0.m, $0.n, $0.k, $0.transposeB ? 1 : 0) < ($1.m, $1.n, $1.k, $1.transposeB ? 1 : 0) }
        let measured = ([squareShape] + calls).map { rates.rate(of: $0) }
        let squareGflops = rates.rate(of: squareShape).gflops
        let encoders = try work.map { benchCase, shapes in
            try encoder(benchCase, shapes: shapes, heads: heads, inputs: inputs, rates: &rates, squareGflops: squareGflops)
        }
        return BenchReport(
            tool: "telme", version: version, machine: .current(compute: compute), repeats: repeats, warmup: warmup,
            model: .init(path: file.url.path, dtype: file.dtype.rawValue, fileBytes: file.fileSize,
                         parameters: file.parameterCount, openSeconds: (opened - start).seconds,
                         buildSeconds: (built - opened).seconds, firstUtteranceSeconds: (first - start).seconds,
                         firstUtterance: inputs.utteranceDescription(heads)),
            sgemm: measured, squareGflops: squareGflops, encoders: encoders, memory: .current())
    }

    /// One encoder case: its timed runs, its products at the measured rates and, with
    /// `breakdown`, one more run timed per kind of operation.
    func encoder(_ benchCase: BenchCase, shapes: [MatmulShape], heads: BenchHeads, inputs: BenchInputs,
                 rates: inout SgemmRates, squareGflops: Double) throws -> BenchReport.Encoder {
        let times = try timing.measure { try heads.run(benchCase, inputs) }
        let products = shapes.map { BenchReport.Product(shape: $0, sgemmGflops: rates.rate(of: $0.call).gflops) }
        var encoder = BenchReport.Encoder(name: benchCase.rawValue, input: inputs.shape(for: benchCase),
                                          products: products, times: times, squareGflops: squareGflops)
        if breakdown {
            Profile.start()
            let profiled = try timing.once { try heads.run(benchCase, inputs) }
            encoder.breakdown = .init(seconds: profiled, parts: Profile.stop())
        }
        return encoder
    }
}

/// The GEMM rate of each product shape, measured the first time it is asked for.
struct SgemmRates {
    let timing: BenchTiming
    private var measured: [MatmulShape: BenchReport.Sgemm] = [:]

    init(timing: BenchTiming) { self.timing = timing }

    mutating func rate(of shape: MatmulShape) -> BenchReport.Sgemm {
        if let known = measured[shape] { return known }
        let rate = timing.sgemm(shape)
        measured[shape] = rate
        return rate
    }
}
