import Foundation
import TelmeFormat
import TelmeModels
import TelmePipeline
import TelmeTensor
#if canImport(Glibc)
import Glibc
#endif

/// What `telme bench` measured; its JSON keys are snake_case.
public struct BenchReport: Encodable {
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

    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }

    public func table() -> String {
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
        return .init(maxRSSBytes: Int(usage.ru_maxrss) * 1024, vmHWMBytes: kibibytes("VmHWM", inStatus: status).map { $0 * 1024 })
    }

    /// The value of a `Name:   1234 kB` line of /proc/self/status, in KiB; nil when absent.
    static func kibibytes(_ name: String, inStatus status: String) -> Int? {
        status.split(separator: "\n").first { $0.hasPrefix(name + ":") }
            .flatMap { Int($0.split(separator: " ").dropFirst().first ?? "") }
    }
}
