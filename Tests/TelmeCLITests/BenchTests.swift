import Foundation
import Testing
@testable import TelmeBench
@testable import TelmeCLI
import TelmeModels
import TelmeTestSupport

/// `telme bench` on the committed sample model: the report has every field, and every time and
/// rate is positive. No figure is checked against a speed (a benchmark is not a test).
@Suite struct BenchTests {
    static let sampleModel = TestPaths.repository.appendingPathComponent("Samples/model/sample-model.h5")

    @Test func reportHasEveryFigure() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("telme-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let model = directory.appendingPathComponent("sample.telme").path
        let out = directory.appendingPathComponent("bench.json")
        try await AnnotateTests.telme(["convert", Self.sampleModel.path, "-o", model])
        // The default thread count, as every other in-process run uses: OpenBLAS's setting is
        // process-wide, and a different one would change the last bits of tests running beside.
        let cores = ProcessInfo.processInfo.activeProcessorCount
        try await AnnotateTests.telme(["bench", "--model", model, "--threads", "\(cores)", "--repeat", "2", "--warmup", "0",
                              "--square", "64", "--breakdown", "--json-out", out.path])

        let report = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: out)) as? [String: Any])
        let machine = try #require(report["machine"] as? [String: Any])
        let compute = try #require(machine["compute"] as? [String: Any])
        #expect(compute["threads"] as? Int == cores)
        #expect(["openblas", "onednn"].contains(compute["backend"] as? String ?? ""))
        #expect(compute["precision"] as? String == "f32")
        #expect((machine["logical_cores"] as? Int ?? 0) >= 1)
        let platform = try #require(machine["platform"] as? [String: Any])
        for library in ["openblas", "onednn"] {
            let kernels = (platform[library] as? [String: Any])?["kernels"] as? String
            #expect(kernels?.isEmpty == false, "\(library)")
        }

        let file = try #require(report["model"] as? [String: Any])
        #expect(file["dtype"] as? String == "f32")
        for key in ["open_seconds", "first_utterance_seconds", "file_bytes"] {
            #expect((file[key] as? Double ?? 0) > 0, "\(key)")
        }
        #expect((file["first_utterance_seconds"] as? Double ?? 0) >= (file["open_seconds"] as? Double ?? .infinity))

        let sgemm = try #require(report["sgemm"] as? [[String: Any]])
        #expect(sgemm.first?["m"] as? Int == 64)
        #expect(sgemm.count > 5)
        for s in sgemm {
            #expect((s["seconds"] as? Double ?? 0) > 0 && (s["gflops"] as? Double ?? 0) > 0, "\(s)")
            // The best of the two libraries on the shape.
            let rates = [s["openblas_gflops"], s["onednn_gflops"]].compactMap { $0 as? Double }
            #expect(rates.count == 2 && rates.allSatisfy { $0 > 0 } && rates.max() == s["gflops"] as? Double, "\(s)")
        }

        let encoders = try #require(report["encoders"] as? [[String: Any]])
        #expect(encoders.map { $0["name"] as? String } == ["text128", "text512", "audio", "video"])
        for e in encoders {
            #expect((e["times"] as? [Double])?.count == 2)
            // --breakdown: one more run, split by kind of operation; the parts fit in its time.
            let breakdown = try #require(e["breakdown"] as? [String: Any], "\(e["name"] ?? "?")")
            let parts = try #require(breakdown["parts"] as? [[String: Any]])
            let names = Set(parts.compactMap { $0["name"] as? String })
            // (oneDNN applies the feed-forward's GELU inside its matmul: no separate part.)
            let separate: Set<String> = compute["backend"] as? String == "openblas" ? ["gelu"] : []
            #expect(names.isSuperset(of: Set(["linear", "attention", "layerNorm"]).union(separate)), "\(names)")
            let total = try #require(breakdown["seconds"] as? Double)
            let measured = parts.reduce(0.0) { $0 + ($1["seconds"] as? Double ?? 0) }
            #expect(measured > 0 && measured <= total)
            #expect(abs((breakdown["other_seconds"] as? Double ?? -1) - (total - measured)) < 1e-9)
            for key in ["flops", "median_seconds", "gflops", "sgemm_gflops_on_shapes", "sgemm_fraction", "square_fraction"] {
                #expect((e[key] as? Double ?? 0) > 0, "\(e["name"] ?? "?") \(key)")
            }
        }
        #expect(encoders[0]["input"] as? [Int] == [1, 128])
        #expect(encoders[2]["input"] as? [Int] == [1, 66150])
        #expect(encoders[3]["input"] as? [Int] == [1, 8, 3, 224, 224])

        let memory = try #require(report["memory"] as? [String: Any])
        #expect((memory["max_rss_bytes"] as? Int ?? 0) > 0)
    }

    /// The analytic FLOP counts at the paper's sizes, worked by hand from the formulas.
    @Test func paperSizeFlops() {
        let roberta = RobertaConfig(vocabSize: 50274, hiddenSize: 1024, numHiddenLayers: 24, numAttentionHeads: 16,
                                    intermediateSize: 4096, maxPositionEmbeddings: 514)
        // 24 · (2·128·(4·1024² + 2·1024·4096) + 4·128²·1024) = 78 920 024 064
        #expect(EncoderWork.flops(EncoderWork.roberta(roberta, tokens: 128)) == 78_920_024_064)
        let timesformer = TimesformerConfig(hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12,
                                            intermediateSize: 3072)
        // patches 2·1568·768·768; per layer 2·1568·2304·768 + 2·2·1568·768² + 2·1576·2304·768
        // + 2·1576·768² + 2·2·1569·3072·768 + 2·2·(8·8·64)·196·12 + 2·2·(197·197·64)·8·12
        let perLayer = 2.0 * 1568 * 2304 * 768 + 4.0 * 1568 * 768 * 768 + 2.0 * 1576 * 2304 * 768
            + 2.0 * 1576 * 768 * 768 + 4.0 * 1569 * 3072 * 768 + 4.0 * 8 * 8 * 64 * 196 * 12 + 4.0 * 197 * 197 * 64 * 8 * 12
        #expect(EncoderWork.flops(EncoderWork.timesformer(timesformer)) == 2.0 * 1568 * 768 * 768 + 12 * perLayer)
    }
}
