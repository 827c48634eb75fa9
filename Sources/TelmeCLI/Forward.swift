import ArgumentParser
import Foundation
import TelmeFiles
import TelmeFormat
import TelmeHDF5
import TelmeModels
import TelmeTensor

/// `telme forward`: runs a converted model on ready-made inputs from an HDF5 file and writes
/// every head's outputs to another, to check a conversion against PyTorch.
struct Forward: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run a .telme model on the tensors of an HDF5 file and write its outputs (for verification).",
        discussion: """
            Inputs (datasets at the root of IN.h5, any of the three groups, batch sizes equal):
              input_ids, attention_mask   int64, batch x length, left-padded, mask 0/1
              audio                       float32, batch x samples, already normalised
              video                       float32, batch x frames x channels x H x W, already normalised
            Outputs (float32): text_hidden, text_logits; audio_hidden, audio_logits;
            video_hidden, video_logits; and fusion_logits when the model has a fusion and all three
            inputs are given. With official-batch4 the fusion sees consecutive batches of 4 rows
            (the authors' inference); with independent every row alone.
            """)

    @Option(help: "The .telme model.", transform: { URL(fileURLWithPath: $0) })
    var model: URL

    @Option(help: "HDF5 file with the inputs.", transform: { URL(fileURLWithPath: $0) })
    var inputs: URL

    @Option(name: [.short, .long, .customLong("out")], help: "HDF5 file to write (replaced only when everything succeeded).",
            transform: { URL(fileURLWithPath: $0) })
    var output: URL

    @Option(help: "ASF batch semantics: independent or official-batch4 (default: the model's setting).")
    var batchSemantics: String?

    @OptionGroup var compute: ComputeOptions

    func run() async throws {
        let semantics = try Self.semantics(batchSemantics)
        guard inputs.standardizedFileURL.path != output.standardizedFileURL.path,
              model.standardizedFileURL.path != output.standardizedFileURL.path else {
            throw ValidationError("-o \(output.path) would overwrite an input")
        }
        try compute.apply()
        let file = try openModel(model.path)
        let runner = try ForwardRunner(file: file)
        let batch = try ForwardInputs(reading: inputs, model: file.model)
        let outputs = try runner.run(batch, semantics: semantics ?? file.model.settings.batchSemantics)
        try ForwardOutputs.write(outputs, to: output)
        print("\(output.path): " + outputs.map { "\($0.0) \($0.1.shape)" }.joined(separator: ", "))
    }

    static func semantics(_ value: String?) throws -> Settings.BatchSemantics? {
        guard let value else { return nil }
        guard let semantics = Settings.BatchSemantics(rawValue: value) else {
            let valid = Settings.BatchSemantics.allCases.map(\.rawValue).joined(separator: " or ")
            throw ValidationError("--batch-semantics must be \(valid), not \"\(value)\"")
        }
        return semantics
    }
}

/// A refused input or a failed run: `<file>: <dataset>: <reason>`, on one line.
struct ForwardError: Error, CustomStringConvertible {
    var file: String
    var dataset: String?
    var reason: String

    var description: String {
        let text = if let dataset { "\(file): \(dataset): \(reason)" } else { "\(file): \(reason)" }
        return text.oneLine
    }
}

/// The inputs of one `forward` run, read from IN.h5 and checked against the model.
struct ForwardInputs {
    var inputIDs: [[Int]]?
    var attentionMask: [[Int]]?
    var audio: Tensor?
    var video: Tensor?
    var batch: Int
    /// The file they came from, for messages.
    var path: String

    static let names = ["input_ids", "attention_mask", "audio", "video"]

    init(reading url: URL, model: ModelDescription) throws {
        let path = url.path
        self.path = path
        let h5 = try HDF5File(readingAt: url)
        func refuse(_ dataset: String?, _ reason: String) -> ForwardError {
            ForwardError(file: path, dataset: dataset, reason: reason)
        }
        let present = Set(Self.names.filter { h5.exists($0) })
        guard !present.isEmpty else {
            throw refuse(nil, "has none of the datasets \(Self.names.joined(separator: ", "))")
        }
        var batches: [(String, Int)] = []

        if present.contains("input_ids") || present.contains("attention_mask") {
            for name in ["input_ids", "attention_mask"] where !present.contains(name) {
                throw refuse(name, "is missing (input_ids and attention_mask come together)")
            }
            let ids = try Self.integerMatrix(h5, "input_ids", path: path)
            let mask = try Self.integerMatrix(h5, "attention_mask", path: path)
            guard mask.shape == ids.shape else {
                throw refuse("attention_mask", "has shape \(mask.shape), input_ids has \(ids.shape)")
            }
            guard ids.shape[1] > 0 else { throw refuse("input_ids", "has length 0") }
            inputIDs = ids.rows
            attentionMask = mask.rows
            batches.append(("input_ids", ids.shape[0]))
        }
        if present.contains("audio") {
            guard model.audio != nil else { throw refuse("audio", "is given but the model has no audio student") }
            let audio = try Self.floats(h5, "audio", rank: 2, path: path)
            batches.append(("audio", audio.shape[0]))
            self.audio = audio
        }
        if present.contains("video") {
            guard let config = model.video?.encoder else {
                throw refuse("video", "is given but the model has no video student")
            }
            let video = try Self.floats(h5, "video", rank: 5, path: path)
            let expected = [config.numFrames, config.numChannels, config.imageSize, config.imageSize]
            guard Array(video.shape.dropFirst()) == expected else {
                throw refuse("video", "has shape \(video.shape), expected batch x \(expected.map(String.init).joined(separator: " x "))")
            }
            batches.append(("video", video.shape[0]))
            self.video = video
        }
        batch = batches[0].1
        for (name, size) in batches.dropFirst() where size != batch {
            throw refuse(name, "has batch size \(size), \(batches[0].0) has \(batch)")
        }
    }

    /// A 2-D integer dataset (int64, int32 or uint8) as rows of Int.
    static func integerMatrix(_ h5: HDF5File, _ name: String, path: String) throws -> (shape: [Int], rows: [[Int]]) {
        let info = try h5.datasetInfo(name)
        guard !info.elementType.isFloatingPoint else {
            throw ForwardError(file: path, dataset: name, reason: "has element type \(info.elementType), expected int64")
        }
        guard info.shape.count == 2 else {
            throw ForwardError(file: path, dataset: name, reason: "has shape \(info.shape), expected batch x length")
        }
        let (shape, values) = try h5.readInt64s(name)
        let width = shape[1]
        let rows = (0..<shape[0]).map { r in values[(r * width)..<((r + 1) * width)].map { Int(clamping: $0) } }
        return (shape, rows)
    }

    /// A float32 dataset of the given rank, every value finite.
    static func floats(_ h5: HDF5File, _ name: String, rank: Int, path: String) throws -> Tensor {
        let info = try h5.datasetInfo(name)
        guard info.elementType == .float32 else {
            throw ForwardError(file: path, dataset: name, reason: "has element type \(info.elementType), expected float32")
        }
        guard info.shape.count == rank else {
            throw ForwardError(file: path, dataset: name, reason: "has shape \(info.shape), expected \(rank) dimensions")
        }
        let (shape, values) = try h5.readFloats(name)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw ForwardError(file: path, dataset: name,
                               reason: "value \(values[bad]) at flat index \(bad) is not finite")
        }
        return Tensor(shape: shape, data: values)
    }
}

/// The model's heads, built once from a `.telme` file.
struct ForwardRunner {
    let file: TelmeFile
    let teacher: TextTeacher
    let audio: AudioStudent?
    let video: VideoStudent?
    let fusion: Fusion?

    /// Rows per pass of each encoder: bounds activation memory; rows never interact.
    static let textChunk = 16
    static let audioChunk = 8
    static let videoChunk = 2
    /// Rows of one authors' batch in `official-batch4`.
    static let officialBatch = 4

    init(file: TelmeFile) throws {
        self.file = file
        let model = file.model
        let networks: LoadedModel
        do {
            networks = try LoadedModel(model, weights: file)
        } catch {
            throw ForwardError(file: file.url.path, dataset: nil, reason: error.description)
        }
        (teacher, audio, video, fusion) = (networks.teacher, networks.audio, networks.video, networks.fusion)
    }

    /// Every output the inputs allow, in a stable order.
    func run(_ inputs: ForwardInputs, semantics: Settings.BatchSemantics) throws -> [(String, Tensor)] {
        var outputs: [(String, Tensor)] = []
        let text = try runTeacher(inputs)
        let audioOut = try runAudio(inputs)
        let videoOut = try runVideo(inputs)
        if let text { outputs += [("text_hidden", text.hidden), ("text_logits", text.logits)] }
        if let audioOut { outputs += [("audio_hidden", audioOut.hidden), ("audio_logits", audioOut.logits)] }
        if let videoOut { outputs += [("video_hidden", videoOut.hidden), ("video_logits", videoOut.logits)] }
        if let fusion, let text, let audioOut, let videoOut {
            outputs.append(("fusion_logits", runFusion(fusion, text: text.hidden, audio: audioOut.hidden,
                                                       video: videoOut.hidden, semantics: semantics)))
        }
        return outputs
    }

    /// The teacher on `input_ids` and `attention_mask`, when given.
    func runTeacher(_ inputs: ForwardInputs) throws -> (hidden: Tensor, logits: Tensor)? {
        guard let ids = inputs.inputIDs, let mask = inputs.attentionMask else { return nil }
        do {
            try teacher.validate(inputIDs: ids, attentionMask: mask)
        } catch {
            let dataset = switch error {
            case .maskShape, .maskValue: "attention_mask"
            default: "input_ids"
            }
            throw ForwardError(file: inputs.path, dataset: dataset, reason: error.description)
        }
        return Self.chunked(rows: ids.count, size: Self.textChunk) { range in
            teacher(inputIDs: Array(ids[range]), attentionMask: Array(mask[range]))
        }
    }

    /// The audio student on `audio`, when given and the model has one.
    func runAudio(_ inputs: ForwardInputs) throws -> (hidden: Tensor, logits: Tensor)? {
        guard let clips = inputs.audio, let audio else { return nil }
        let samples = clips.shape[1]
        guard samples >= audio.minimumSamples else {
            throw ForwardError(file: inputs.path, dataset: "audio", reason:
                "clips of \(samples) samples are shorter than the \(audio.minimumSamples) the model needs for one frame")
        }
        do {
            return try Self.chunked(rows: clips.shape[0], size: Self.audioChunk) { range in
                try audio(Self.rows(clips, range))
            }
        } catch {
            throw ForwardError(file: inputs.path, dataset: "audio", reason: "\(error)")
        }
    }

    /// The video student on `video`, when given and the model has one.
    func runVideo(_ inputs: ForwardInputs) throws -> (hidden: Tensor, logits: Tensor)? {
        guard let clips = inputs.video, let video else { return nil }
        do {
            try video.validate(clips)
        } catch {
            throw ForwardError(file: inputs.path, dataset: "video", reason: "\(error)")
        }
        return Self.chunked(rows: clips.shape[0], size: Self.videoChunk) { range in
            video(Self.rows(clips, range))
        }
    }

    /// The fusion's logits: every row alone (`independent`) or in the authors' batches of 4.
    func runFusion(_ fusion: Fusion, text: Tensor, audio: Tensor, video: Tensor,
                   semantics: Settings.BatchSemantics) -> Tensor {
        let order = file.model.settings.fusionOrder
        let size = semantics == .officialBatch4 ? Self.officialBatch : max(text.shape[0], 1)
        var parts: [Tensor] = []
        for start in stride(from: 0, to: text.shape[0], by: size) {
            let range = start..<min(start + size, text.shape[0])
            parts.append(fusion(text: Self.rows(text, range), audio: Self.rows(audio, range),
                                video: Self.rows(video, range), semantics: semantics, order: order))
        }
        return Self.stack(parts, width: fusion.classes)
    }

    /// Rows `range` of a tensor (first dimension).
    static func rows(_ x: Tensor, _ range: Range<Int>) -> Tensor {
        let stride = x.shape.dropFirst().reduce(1, *)
        return Tensor(shape: [range.count] + x.shape.dropFirst(), data: Array(x.data[(range.lowerBound * stride)..<(range.upperBound * stride)]))
    }

    /// Tensors `[n_i, width]` stacked along the first dimension.
    static func stack(_ parts: [Tensor], width: Int) -> Tensor {
        var data: [Float] = []
        data.reserveCapacity(parts.reduce(0) { $0 + $1.count })
        for part in parts { data += part.data }
        return Tensor(shape: [data.count / max(width, 1), width], data: data)
    }

    /// `body` over consecutive row ranges of at most `size`, its outputs stacked.
    static func chunked(rows: Int, size: Int, _ body: (Range<Int>) throws -> (hidden: Tensor, logits: Tensor))
        rethrows -> (hidden: Tensor, logits: Tensor) {
        guard rows > 0 else { return try body(0..<0) }
        var hidden: [Tensor] = []
        var logits: [Tensor] = []
        for start in stride(from: 0, to: rows, by: size) {
            let part = try body(start..<min(start + size, rows))
            hidden.append(part.hidden)
            logits.append(part.logits)
        }
        return (stack(hidden, width: hidden[0].cols), stack(logits, width: logits[0].cols))
    }
}

/// Writes the outputs of a run.
enum ForwardOutputs {
    /// Writes every tensor as a float32 dataset into a temporary file next to `url`, then
    /// renames it over `url`, so a failed run never leaves a partial file there.
    static func write(_ outputs: [(String, Tensor)], to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).\(UUID().uuidString).tmp")
        do {
            try writeFile(outputs, to: temporary)
            guard rename(temporary.path, url.path) == 0 else {
                let reason = String(cString: strerror(errno))
                throw ForwardError(file: url.path, dataset: nil, reason: "cannot move the finished file into place: \(reason)")
            }
        } catch {
            try? FileManager.default.removeItem(at: temporary)
            throw error
        }
    }

    private static func writeFile(_ outputs: [(String, Tensor)], to url: URL) throws {
        let h5 = try HDF5File(creatingAt: url)
        for (name, tensor) in outputs {
            try h5.write(name, shape: tensor.shape, floats: tensor.data)
        }
        try h5.flush()
    }
}
