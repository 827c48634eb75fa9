import Foundation
import Testing
import TelmeFormat
import TelmeModels

/// A model at the paper's sizes (roberta-large teacher, data2vec-audio-base and TimeSformer-base
/// students, ASF; about 2.3 GB of f32) written and opened again: every weight is in the file,
/// checked or not; the times are printed. Writes the file to the temporary folder, so it is
/// opt-in: `TELME_FORMAT_BENCH=1 swift test -c release --filter FormatBenchmark`.
@Suite("FormatBenchmark", .serialized, .enabled(if: ProcessInfo.processInfo.environment["TELME_FORMAT_BENCH"] != nil,
                                   "set TELME_FORMAT_BENCH=1 (writes a 2.3 GB file; run with -c release)"))
struct FormatBenchmark {
    static func paperModel() -> ModelDescription {
        ModelDescription(
            dataset: "meld", labels: ModelDescription.defaultLabels(dataset: "meld") ?? [],
            text: TextTeacherConfig(encoder: RobertaConfig(
                vocabSize: 50274, hiddenSize: 1024, numHiddenLayers: 24, numAttentionHeads: 16,
                intermediateSize: 4096, maxPositionEmbeddings: 514)),
            audio: AudioStudentConfig(encoder: Data2VecAudioConfig(
                hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, intermediateSize: 3072,
                convDim: [512, 512, 512, 512, 512, 512, 512], convKernel: [10, 3, 3, 3, 3, 2, 2],
                convStride: [5, 2, 2, 2, 2, 2, 2], convBias: true)),
            video: VideoStudentConfig(encoder: TimesformerConfig(
                hiddenSize: 768, numHiddenLayers: 12, numAttentionHeads: 12, intermediateSize: 3072)),
            fusion: FusionConfig.defaults(dataset: "meld"),
            settings: .defaults(dataset: "meld"))
    }

    static func seconds(_ body: () throws -> Void) rethrows -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }

    /// XXH64 over 1 GiB: the reference library's digest (libxxhash 0.8.1 on the same bytes), and
    /// the speed (printed).
    @Test func xxh64Throughput() {
        let bytes = [UInt8](unsafeUninitializedCapacity: 1 << 30) { buffer, count in
            for i in 0..<buffer.count { buffer[i] = UInt8(truncatingIfNeeded: i &* (2_654_435_761 >> 13)) }
            count = buffer.count
        }
        var digest: UInt64 = 0
        let time = Self.seconds { digest = XXH64.hash(bytes) }
        print("XXH64 one thread: \(String(format: "%.2f", 1.0 / time)) GiB/s (digest \(String(digest, radix: 16)))")
        #expect(digest == 0x0925_2B8D_1E0D_5F8A)
    }

    @Test(arguments: [TensorDType.f32, .bf16])
    func openPaperSizeModel(dtype: TensorDType) throws {
        try withTemporaryDirectory { folder in
            let url = folder.appendingPathComponent("paper.telme")
            let model = Self.paperModel()
            var written = 0
            let writeTime = try Self.seconds {
                try TelmeWriter.write(to: url, model: model, provenance: Tiny.provenance, tokenizer: Tiny.tokenizer,
                                      dtype: dtype) { spec in
                    written += spec.shape.reduce(1, *)
                    return (0..<spec.shape.reduce(1, *)).map { Float($0 % 1000) * 0.001 }
                }
            }
            let size = Double(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int ?? 0)
            var parameters = 0
            var opened: ModelDescription?
            let openTime = try Self.seconds {
                let file = try TelmeFile(contentsOf: url)
                (parameters, opened) = (file.parameterCount, file.model)
            }
            let uncheckedTime = try Self.seconds { _ = try TelmeFile(contentsOf: url, verifyChecksums: false) }
            print("\(dtype.rawValue): \(parameters) parameters, \(String(format: "%.2f", size / 1e9)) GB; write "
                + "\(String(format: "%.2f", writeTime)) s; open with checksums \(String(format: "%.3f", openTime)) s "
                + "(\(String(format: "%.2f", size / openTime / 1e9)) GB/s), without \(String(format: "%.3f", uncheckedTime)) s")
            // The paper-size model reads back whole: its description, every tensor, their bytes.
            #expect(opened == model)
            #expect(parameters == Architecture.tensorSpecs(for: model).reduce(0) { $0 + $1.shape.reduce(1, *) })
            #expect(size >= Double(parameters * dtype.size))
        }
    }
}
