import Foundation
import Testing
import TelmeFormat
import TelmeModels

@Suite("What telme inspect prints")
struct ReportTests {
    @Test func textNamesEverySettingAndConfig() throws {
        try withTemporaryDirectory { folder in
            let url = try Tiny.write(Tiny.fullModel(), dtype: .bf16, to: folder.appendingPathComponent("m.telme"))
            let file = try TelmeFile(contentsOf: url)
            let text = try TelmeFileReport(file).text()
            let lines = text.split(separator: "\n").map(String.init)
            for expected in ["file: \(url.path)", "format version: 1", "dtype: bf16", "dataset: iemocap",
                             "labels (6): ang, exc, fru, hap, neu, sad", "components: teacher, audio, video, fusion",
                             "tensors: 104 (+ 2 tokenizer blobs)",
                             "parameters: 10,646 (teacher 976, audio 994, video 7,262, fusion 1,414)",
                             "  source sha256: \(Tiny.provenance.sourceSHA256)", "  converter version: test",
                             "  created (UTC): 2025-01-31T12:00:00Z", "    conv_kernel: [3, 2]", "  beta_shift: 0.2",
                             "  fusion_order: video-audio", "  speaker_numbering: dialogue", "  video_margin_seconds: 1",
                             "  image_std: [0.229, 0.224, 0.225]", "    layer_norm_eps: 1e-06", "  projection_dim: 6"] {
                #expect(lines.contains(expected), "missing line: \(expected)")
            }
            #expect(text.contains("file size: \(TelmeFileReport.grouped(file.fileSize)) bytes"))
            #expect(!text.contains("tensor table"))
            // Every key of the model description appears in the text.
            let keys = try Self.keys(of: JSONSerialization.jsonObject(with: Data(try TelmeFileReport(file).json().utf8)))
            for key in keys { #expect(text.contains(key), "\(key)") }
        }
    }

    static func keys(of value: Any) -> Set<String> {
        var result = Set<String>()
        if let object = value as? [String: Any] {
            for (key, child) in object where key != "tensors" {
                result.insert(key)
                result.formUnion(keys(of: child))
            }
        }
        return result.subtracting(["file", "file_size", "format_version", "labels", "dataset", "dtype", "components",
                                   "tensor_count", "parameter_count", "parameters_by_component", "tokenizer",
                                   "vocab_json_bytes", "merges_txt_bytes", "provenance", "model", "converter_version",
                                   "created_utc", "source_file", "source_sha256", "teacher"])
    }

    @Test func jsonIsOneObjectWithTheSameFacts() throws {
        try withTemporaryDirectory { folder in
            let url = try Tiny.write(Tiny.textModel(), dtype: .f32, to: folder.appendingPathComponent("m.telme"))
            let file = try TelmeFile(contentsOf: url)
            let json = try TelmeFileReport(file, includeTensors: true).json()
            #expect(!json.contains("\n"))
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            #expect(object["file"] as? String == url.path)
            #expect(object["file_size"] as? Int == file.fileSize)
            #expect(object["format_version"] as? Int == 1)
            #expect(object["dtype"] as? String == "f32")
            #expect(object["dataset"] as? String == "meld")
            #expect(object["labels"] as? [String] == Tiny.textModel().labels)
            #expect(object["tensor_count"] as? Int == 25)
            #expect(object["parameter_count"] as? Int == file.parameterCount)
            #expect((object["provenance"] as? [String: Any])?["source_file"] as? String == "tiny.h5")
            let settings = (object["model"] as? [String: Any])?["settings"] as? [String: Any]
            #expect(settings?["zero_media_over_seconds"] as? Double == 30)
            let tensors = try #require(object["tensors"] as? [[String: Any]])
            #expect(tensors.count == 27)
            #expect(tensors.last?["name"] as? String == "tokenizer.merges_txt")
            #expect(tensors.first?["shape"] as? [Int] == [20, 8])
            #expect((tensors.first?["checksum"] as? String)?.count == 16)
            // The model inside decodes back to the file's description.
            let decoder = JSONDecoder()
            decoder.keyDecodingStrategy = .convertFromSnakeCase
            let modelJSON = try JSONSerialization.data(withJSONObject: object["model"] ?? [:])
            #expect(try decoder.decode(ModelDescription.self, from: modelJSON) == file.model)
        }
    }

    @Test func groupedNumbers() {
        #expect(TelmeFileReport.grouped(0) == "0")
        #expect(TelmeFileReport.grouped(999) == "999")
        #expect(TelmeFileReport.grouped(1000) == "1,000")
        #expect(TelmeFileReport.grouped(581_952_540) == "581,952,540")
    }
}
