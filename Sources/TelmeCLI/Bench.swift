import ArgumentParser
import Foundation
import TelmeFormat
import TelmeModels
import TelmeTensor
import TelmePipeline
#if canImport(Glibc)
import Glibc
#endif

/// `telme bench`: in one process, OpenBLAS `sgemm` on the encoders' matrix shapes, model
/// start-up, and each encoder alone on synthetic inputs (Scripts/bench.py compares it with
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
            products (see BenchWork.swift); the sgemm fraction divides an encoder's rate by the \
            rate sgemm reaches on that encoder's own shapes. Inputs are deterministic (the same \
            formulas as Scripts/bench.py).
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

    @Flag(help: "Print the report as JSON instead of a table.")
    var json = false

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
        let computeInfo = try compute.apply()
        let timing = BenchTiming(repeats: repeats, warmup: warmup)
        let start = ContinuousClock.now
        let file = try openModel(model)
        let opened = ContinuousClock.now
        let heads = try BenchHeads(file: file)
        let built = ContinuousClock.now
        let inputs = BenchInputs(model: file.model, audioSamples: audioSamples)
        try heads.utterance(inputs)
        let first = ContinuousClock.now

        let selected = try selectedCases().filter { heads.supports($0) }
        let work = selected.map { ($0, inputs.work(for: $0)) }
        let calls = Array(Set(work.flatMap { $0.1.map(\.call) }))
            .sorted { ($0.m, $0.n, $0.k, $0.transposeB ? 1 : 0) < ($1.m, $1.n, $1.k, $1.transposeB ? 1 : 0) }
        let squareShape = MatmulShape(square, square, square)
        var sgemm: [MatmulShape: BenchReport.Sgemm] = [:]
        for shape in [squareShape] + calls where sgemm[shape] == nil {
            sgemm[shape] = timing.sgemm(shape)
        }

        var encoders: [BenchReport.Encoder] = []
        for (benchCase, shapes) in work {
            let times = try timing.measure { try heads.run(benchCase, inputs) }
            let products = shapes.map { BenchReport.Product(shape: $0, sgemmGflops: sgemm[$0.call]!.gflops) }
            var encoder = BenchReport.Encoder(
                name: benchCase.rawValue, input: inputs.shape(for: benchCase), products: products,
                times: times, squareGflops: sgemm[squareShape]!.gflops)
            if breakdown {
                Profile.start()
                let profiled = try timing.once { try heads.run(benchCase, inputs) }
                encoder.breakdown = .init(seconds: profiled, parts: Profile.stop())
            }
            encoders.append(encoder)
        }

        let report = BenchReport(
            tool: "telme", version: TelmeVersion.string, machine: .current(compute: computeInfo),
            repeats: repeats, warmup: warmup,
            model: .init(path: file.url.path, dtype: file.dtype.rawValue, fileBytes: file.fileSize,
                         parameters: file.parameterCount, openSeconds: (opened - start).seconds,
                         buildSeconds: (built - opened).seconds, firstUtteranceSeconds: (first - start).seconds,
                         firstUtterance: inputs.utteranceDescription(heads)),
            sgemm: ([squareShape] + calls).compactMap { sgemm[$0] },
            squareGflops: sgemm[squareShape]!.gflops,
            encoders: encoders, memory: .current())
        let encoded = try report.json()
        if let jsonOut { try encoded.write(to: URL(fileURLWithPath: jsonOut)) }
        if json {
            FileHandle.standardOutput.write(encoded)
            print()
        } else {
            print(report.table())
        }
    }
}

/// The encoder cases of `telme bench` (the issue's sizes).
enum BenchCase: String, CaseIterable, Sendable {
    case text128, text512, audio, video
}

/// Median-of-repeats timing.
struct BenchTiming {
    var repeats: Int
    var warmup: Int
    /// Shortest timed sample of one sgemm shape: tiny shapes are called in a loop this long.
    static let minimumSample = 0.1

    /// `warmup` untimed runs of `body`, then `repeats` timed ones (seconds each).
    func measure(_ body: () throws -> Void) rethrows -> [Double] {
        for _ in 0..<warmup { try body() }
        return try (0..<repeats).map { _ in
            let start = ContinuousClock.now
            try body()
            return (ContinuousClock.now - start).seconds
        }
    }

    /// Seconds of one run of `body`.
    func once(_ body: () throws -> Void) rethrows -> Double {
        let start = ContinuousClock.now
        try body()
        return (ContinuousClock.now - start).seconds
    }

    /// `cblas_sgemm` on `shape` (row-major, values in [-1, 1]): seconds per call (the median
    /// of `repeats` samples of enough calls to last `minimumSample`) and GFLOP/s.
    /// The rate of each library on one product shape: OpenBLAS's `cblas_sgemm`, and oneDNN's
    /// packed matmul (a dense layer's, for B transposed) or `dnnl_sgemm`.
    func sgemm(_ shape: MatmulShape) -> BenchReport.Sgemm {
        let a = Self.values(shape.m * shape.k, seed: 1)
        let b = Self.values(shape.k * shape.n, seed: 2)
        var c = [Float](repeating: 0, count: shape.m * shape.n)
        func rate(_ once: () -> Void) -> Double {
            // Warm-up, and how many calls one sample needs.
            let single = BenchTiming(repeats: 1, warmup: max(1, warmup)).measure(once)[0]
            let loops = max(1, min(1_000_000, Int((Self.minimumSample / max(single, 1e-9)).rounded(.up))))
            let seconds = BenchTiming(repeats: repeats, warmup: 0).measure {
                for _ in 0..<loops { once() }
            }.map { $0 / Double(loops) }.median
            return shape.flops / seconds / 1e9
        }
        let rates = a.withUnsafeBufferPointer { ap in
            b.withUnsafeBufferPointer { bp in
                c.withUnsafeMutableBufferPointer { cp in
                    let (aBase, bBase, cBase) = (ap.baseAddress!, bp.baseAddress!, cp.baseAddress!)
                    return Backend.allCases.map { backend in
                        if backend == .onednn && shape.transposeB {
                            let layer = Linear(weight: WeightView(shape: [shape.n, shape.k], base: bBase), bias: nil,
                                               backend: .onednn)
                            let x = Tensor(shape: [shape.m, shape.k], data: a)
                            return rate { _ = layer(x) }
                        }
                        return rate {
                            Gemm.multiply(m: shape.m, n: shape.n, k: shape.k, a: aBase, lda: shape.k,
                                          b: bBase, ldb: shape.transposeB ? shape.k : shape.n,
                                          transposeB: shape.transposeB, c: cBase, ldc: shape.n, backend: backend)
                        }
                    }
                }
            }
        }
        let best = rates.max()!
        return .init(m: shape.m, n: shape.n, k: shape.k, transposeB: shape.transposeB, seconds: shape.flops / best / 1e9,
                     gflops: best, openblasGflops: rates[0], onednnGflops: rates[1])
    }

    /// Deterministic values in [-1, 1].
    static func values(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        return (0..<count).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 23) - 1
        }
    }
}

/// The synthetic inputs, made once, with the same formulas as Scripts/bench.py:
/// token i = 4 + (7919 i) mod (vocab - 4), mask all 1; sample i = 0.5 sin(0.0627 i) +
/// 0.25 sin(0.00913 i); video value j (flat index) = ((37 j) mod 256) / 128 - 1.
struct BenchInputs {
    let model: ModelDescription
    let audioSamples: Int
    let audio: Tensor
    let video: Tensor?

    init(model: ModelDescription, audioSamples: Int) {
        self.model = model
        self.audioSamples = audioSamples
        audio = Tensor(shape: [1, audioSamples], data: (0..<audioSamples).map { i in
            let x = Double(i)
            return Float(0.5 * sin(0.0627 * x) + 0.25 * sin(0.00913 * x))
        })
        video = model.video.map { config in
            let c = config.encoder
            let shape = [1, c.numFrames, c.numChannels, c.imageSize, c.imageSize]
            return Tensor(shape: shape, data: (0..<shape.reduce(1, *)).map { Float(($0 * 37) % 256) / 128 - 1 })
        }
    }

    /// Tokens of a text case, within the model's positions (RoBERTa's start after the pad id).
    func tokens(_ c: BenchCase) -> Int {
        let wanted = c == .text512 ? 512 : 128
        let e = model.text.encoder
        return max(1, min(wanted, e.maxPositionEmbeddings - e.padTokenId - 1))
    }

    /// One sequence of `count` tokens, no padding.
    func text(_ count: Int) -> (ids: [[Int]], mask: [[Int]]) {
        let vocab = model.text.encoder.vocabSize
        return ([(0..<count).map { 4 + ($0 * 7919) % max(vocab - 4, 1) }], [[Int](repeating: 1, count: count)])
    }

    func shape(for c: BenchCase) -> [Int] {
        switch c {
        case .text128, .text512: [1, tokens(c)]
        case .audio: audio.shape
        case .video: video?.shape ?? []
        }
    }

    func work(for c: BenchCase) -> [MatmulShape] {
        switch c {
        case .text128, .text512: EncoderWork.roberta(model.text.encoder, tokens: tokens(c))
        case .audio: model.audio.map { EncoderWork.data2vecAudio($0.encoder, samples: audioSamples) } ?? []
        case .video: model.video.map { EncoderWork.timesformer($0.encoder) } ?? []
        }
    }

    func utteranceDescription(_ heads: BenchHeads) -> String {
        var parts = ["text \(tokens(.text128)) tokens"]
        if heads.audio != nil { parts.append("audio \(audioSamples) samples") }
        if heads.video != nil, let video { parts.append("video " + video.shape.dropFirst().map(String.init).joined(separator: "x")) }
        if heads.fusion != nil { parts.append("fusion") }
        return parts.joined(separator: ", ")
    }
}

/// The model's heads, built from an open file.
struct BenchHeads {
    let teacher: TextTeacher
    let audio: AudioStudent?
    let video: VideoStudent?
    let fusion: Fusion?
    let model: ModelDescription

    init(file: TelmeFile) throws {
        model = file.model
        teacher = try TextTeacher(model: model, weights: file)
        audio = model.audio == nil ? nil : try AudioStudent(model: model, weights: file)
        video = model.video == nil ? nil : try VideoStudent(model: model, weights: file)
        fusion = model.fusion == nil || audio == nil || video == nil ? nil : try Fusion(model: model, weights: file)
    }

    func supports(_ c: BenchCase) -> Bool {
        switch c {
        case .text128, .text512: true
        case .audio: audio != nil
        case .video: video != nil
        }
    }

    /// One encoder alone on its case's input.
    func run(_ c: BenchCase, _ inputs: BenchInputs) throws {
        switch c {
        case .text128, .text512:
            let (ids, mask) = inputs.text(inputs.tokens(c))
            _ = teacher(inputIDs: ids, attentionMask: mask)
        case .audio:
            _ = try audio.map { try $0(inputs.audio) }
        case .video:
            if let video, let clip = inputs.video { _ = video(clip) }
        }
    }

    /// One whole synthetic utterance: teacher on 128 tokens, both students, the fusion.
    func utterance(_ inputs: BenchInputs) throws {
        let (ids, mask) = inputs.text(inputs.tokens(.text128))
        let text = teacher(inputIDs: ids, attentionMask: mask)
        let a = try audio.map { try $0(inputs.audio) }
        let v = video.flatMap { student in inputs.video.map { student($0) } }
        if let fusion, let a, let v {
            _ = fusion(text: text.hidden, audio: a.hidden, video: v.hidden, semantics: .independent,
                       order: model.settings.fusionOrder)
        }
    }
}

/// What `telme bench` measured; its JSON keys are snake_case.
struct BenchReport: Encodable {
    struct Machine: Encodable {
        /// The CPU, its flags, and the kernels each library runs on it.
        var platform: Platform
        var logicalCores: Int
        /// The backend and precision of the encoders' runs.
        var compute: ComputeInfo
    }

    struct Model: Encodable {
        var path: String
        var dtype: String
        var fileBytes: Int
        var parameters: Int
        /// `TelmeFile(contentsOf:)`: map, parse, validate (checksums included).
        var openSeconds: Double
        /// Building the heads (fetching and shape-checking every weight).
        var buildSeconds: Double
        /// From before the open to the end of the first synthetic utterance.
        var firstUtteranceSeconds: Double
        var firstUtterance: String
    }

    struct Sgemm: Encodable {
        var m, n, k: Int
        var transposeB: Bool
        /// Median seconds per call of the faster library.
        var seconds: Double
        /// The faster library's rate: the best GEMM rate of this run on this shape.
        var gflops: Double
        var openblasGflops: Double
        var onednnGflops: Double
    }

    /// One matrix-product shape of an encoder, `count` times per run.
    struct Product: Encodable {
        var m, n, k, count: Int
        var transposeB: Bool
        var flops: Double
        /// The measured sgemm rate of one call of this shape.
        var sgemmGflops: Double

        init(shape: MatmulShape, sgemmGflops: Double) {
            (m, n, k, count, transposeB) = (shape.m, shape.n, shape.k, shape.count, shape.transposeB)
            flops = shape.flops
            self.sgemmGflops = sgemmGflops
        }
    }

    struct Encoder: Encodable {
        var name: String
        var input: [Int]
        var products: [Product]
        /// Nominal matrix-product FLOPs of one run (`EncoderWork`).
        var flops: Double
        /// Every timed run, in order.
        var times: [Double]
        var medianSeconds: Double
        var minSeconds: Double
        var gflops: Double
        /// The time the encoder's products take at the measured sgemm rate of each shape.
        var sgemmSecondsOnShapes: Double
        var sgemmGflopsOnShapes: Double
        /// `gflops / sgemmGflopsOnShapes`.
        var sgemmFraction: Double
        /// `gflops` over the large square's rate.
        var squareFraction: Double
        /// One more run timed per kind of operation (`--breakdown`).
        var breakdown: Breakdown?

        init(name: String, input: [Int], products: [Product], times: [Double], squareGflops: Double) {
            self.name = name
            self.input = input
            self.products = products
            flops = products.reduce(0) { $0 + $1.flops }
            let sgemmSecondsOnShapes = products.reduce(0) { $0 + $1.flops / ($1.sgemmGflops * 1e9) }
            self.times = times
            medianSeconds = times.median
            minSeconds = times.min() ?? 0
            gflops = flops / medianSeconds / 1e9
            self.sgemmSecondsOnShapes = sgemmSecondsOnShapes
            sgemmGflopsOnShapes = flops / sgemmSecondsOnShapes / 1e9
            sgemmFraction = gflops / sgemmGflopsOnShapes
            squareFraction = gflops / squareGflops
        }
    }

    /// Wall time of one run per kind of operation (`TelmeTensor.Profile`); `other` is the rest
    /// (row copies, embeddings, residual sums outside `Ops`).
    struct Breakdown: Encodable {
        struct Part: Encodable {
            var name: String
            var seconds: Double
            var calls: Int
        }

        var seconds: Double
        var parts: [Part]
        var otherSeconds: Double

        init(seconds: Double, parts: [String: Profile.Entry]) {
            self.seconds = seconds
            self.parts = parts.map { Part(name: $0.key, seconds: $0.value.seconds, calls: $0.value.calls) }
                .sorted { $0.seconds > $1.seconds }
            otherSeconds = seconds - self.parts.reduce(0) { $0 + $1.seconds }
        }
    }

    struct Memory: Encodable {
        /// `getrusage(RUSAGE_SELF).ru_maxrss`, in bytes.
        var maxRSSBytes: Int
        /// `VmHWM` of /proc/self/status, in bytes (nil where there is no /proc).
        var vmHWMBytes: Int?
    }

    var tool: String
    var version: String
    var machine: Machine
    var repeats: Int
    var warmup: Int
    var model: Model
    var sgemm: [Sgemm]
    var squareGflops: Double
    var encoders: [Encoder]
    var memory: Memory

    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    func table() -> String {
        func f(_ format: String, _ args: CVarArg...) -> String { String(format: format, arguments: args) }
        let p = machine.platform
        var lines = [
            "\(p.cpu), \(machine.logicalCores) logical cores; \(p.flags.joined(separator: " "))",
            "\(p.openblas.name) \(p.openblas.version) (\(p.openblas.kernels)), \(p.onednn.name) \(p.onednn.version) (\(p.onednn.kernels))",
            "encoders on \(machine.compute.kernels), \(machine.compute.precision.rawValue), \(machine.compute.threads) threads; "
                + "median of \(repeats) after \(warmup) warm-up",
            f("model %@ (%@, %.0f MiB): open %.3f s, build %.3f s, first utterance %.2f s (%@)",
              model.path, model.dtype, Double(model.fileBytes) / 1048576, model.openSeconds, model.buildSeconds,
              model.firstUtteranceSeconds, model.firstUtterance),
            "",
            "GEMM (row-major, B transposed unless noted)     GFLOP/s: OpenBLAS   oneDNN     best ms/call",
        ]
        for s in sgemm {
            let label = "\(s.m)x\(s.n)x\(s.k)" + (s.transposeB ? "" : " (B not transposed)")
            lines.append(label.padding(toLength: 46, withPad: " ", startingAt: 0)
                         + f("%18.1f %8.1f %14.3f", s.openblasGflops, s.onednnGflops, s.seconds * 1e3))
        }
        lines += ["", "encoder   input                  GFLOP   median s   min s  GFLOP/s  sgemm on shapes  fraction  of square"]
        for e in encoders {
            let input = e.input.map(String.init).joined(separator: "x")
            lines.append(e.name.padding(toLength: 10, withPad: " ", startingAt: 0)
                         + input.padding(toLength: 20, withPad: " ", startingAt: 0)
                         + f("%8.1f %10.3f %7.3f %8.1f %16.1f %9.2f %10.2f", e.flops / 1e9, e.medianSeconds, e.minSeconds,
                             e.gflops, e.sgemmGflopsOnShapes, e.sgemmFraction, e.squareFraction))
        }
        for e in encoders {
            guard let b = e.breakdown else { continue }
            lines += ["", f("%@ by operation (one run, %.3f s)      seconds   share   calls", e.name, b.seconds)]
            for p in b.parts + [.init(name: "other", seconds: b.otherSeconds, calls: 0)] {
                lines.append("  " + p.name.padding(toLength: 36, withPad: " ", startingAt: 0)
                             + f("%9.3f %6.1f%% %7d", p.seconds, 100 * p.seconds / max(b.seconds, 1e-12), p.calls))
            }
        }
        lines.append(f("peak RSS %.0f MiB (VmHWM %@)", Double(memory.maxRSSBytes) / 1048576,
                       memory.vmHWMBytes.map { f("%.0f MiB", Double($0) / 1048576) } ?? "n/a"))
        return lines.joined(separator: "\n")
    }
}

extension BenchReport.Machine {
    static func current(compute: ComputeInfo) -> Self {
        .init(platform: .current, logicalCores: ProcessInfo.processInfo.activeProcessorCount, compute: compute)
    }
}

extension BenchReport.Memory {
    static func current() -> Self {
        var usage = rusage()
        getrusage(RUSAGE_SELF.rawValue, &usage)
        let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
        let hwm = status.split(separator: "\n").first { $0.hasPrefix("VmHWM:") }
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
        return .init(maxRSSBytes: Int(usage.ru_maxrss) * 1024, vmHWMBytes: hwm.map { $0 * 1024 })
    }
}

extension Duration {
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) * 1e-18
    }
}

extension Array where Element == Double {
    /// The middle value (the mean of the two middle ones for an even count); 0 when empty.
    var median: Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        return count % 2 == 1 ? sorted[count / 2] : (sorted[count / 2 - 1] + sorted[count / 2]) / 2
    }
}
