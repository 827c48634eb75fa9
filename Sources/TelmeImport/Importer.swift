import Foundation
import TelmeFiles
import TelmeFormat
import TelmeHDF5
import TelmeModels
import TelmeTokenizer

/// Choices of a conversion that the export does not fix.
public struct ConversionOptions: Sendable {
    /// Float type of the stored weights.
    public var dtype: TensorDType
    /// ASF's attention heads; default `FusionConfig.defaults(dataset:)` (not in the state dict).
    public var fusionHeads: Int?
    /// ASF's beta_shift; default `FusionConfig.defaults(dataset:)` (not in the state dict).
    public var betaShift: Double?
    /// Overrides of `Settings.defaults(dataset:)`.
    public var speakerNumbering: Settings.SpeakerNumbering?
    public var fusionOrder: Settings.FusionOrder?
    public var channelOrder: Settings.ChannelOrder?
    public var sampleRate: Int?
    /// Recorded in the provenance (the CLI passes `TelmeVersion.string`).
    public var converterVersion: String
    /// ISO 8601 UTC creation time; nil means now.
    public var createdUTC: String?
    /// Replace an output that is a regular file but not a `.telme` model.
    public var overwrite = false

    public init(dtype: TensorDType = .f32, fusionHeads: Int? = nil, betaShift: Double? = nil,
                speakerNumbering: Settings.SpeakerNumbering? = nil, fusionOrder: Settings.FusionOrder? = nil,
                channelOrder: Settings.ChannelOrder? = nil, sampleRate: Int? = nil,
                converterVersion: String, createdUTC: String? = nil, overwrite: Bool = false) {
        self.dtype = dtype
        self.fusionHeads = fusionHeads
        self.betaShift = betaShift
        self.speakerNumbering = speakerNumbering
        self.fusionOrder = fusionOrder
        self.channelOrder = channelOrder
        self.sampleRate = sampleRate
        self.converterVersion = converterVersion
        self.createdUTC = createdUTC
        self.overwrite = overwrite
    }
}

/// An export that passed every check but the weights' values: the model it describes, where
/// each of its tensors is in the HDF5 file, and what was left out.
public struct ImportPlan: Sendable {
    public var model: ModelDescription
    /// `.telme` tensor name -> HDF5 dataset path (`teacher.W.weight` -> `/teacher/W.weight`).
    public var sources: [String: String]
    /// HDF5 dataset paths of the known-unused checkpoint tensors, which are not converted.
    public var dropped: [String]
    public var tokenizer: TokenizerFiles
}

/// What a conversion wrote.
public struct ConversionReport: Sendable {
    public var output: URL
    public var model: ModelDescription
    public var tensorCount: Int
    public var parameterCount: Int
    public var dropped: [String]
    public var dtype: TensorDType
    public var sourceSHA256: String
    public var outputBytes: Int
}

/// HDF5 export (`Schemas/hdf5-export.md`) -> checked -> `.telme` (`Schemas/telme-format.md`).
public enum TelmeImporter {
    /// Converts `input` into `output`. Everything but the weights' values is checked before
    /// anything is written; weights are read one tensor at a time and checked for NaN/Inf.
    /// On any failure nothing is left at `output` (an existing file there is kept).
    public static func convert(input: URL, output: URL, options: ConversionOptions) throws -> ConversionReport {
        let file = input.path
        guard input.standardizedFileURL.resolvingSymlinksInPath() != output.standardizedFileURL.resolvingSymlinksInPath() else {
            throw ImportError(file: file, "the output would overwrite the input")
        }
        try checkOutput(output, overwrite: options.overwrite)
        let h5 = try HDF5File(readingAt: input)
        let plan = try makePlan(h5, options: options)
        let sha256: String
        do {
            sha256 = try SHA256.hexDigest(ofFileAt: input)
        } catch {
            throw ImportError(file: file, "cannot read to hash it: \(error.localizedDescription)")
        }
        let provenance = Provenance(sourceFile: input.lastPathComponent, sourceSHA256: sha256,
                                    converterVersion: options.converterVersion,
                                    createdUTC: options.createdUTC ?? Provenance.nowUTC())
        var parameters = 0
        try TelmeWriter.write(to: output, model: plan.model, provenance: provenance, tokenizer: plan.tokenizer,
                              dtype: options.dtype) { spec in
            guard let source = plan.sources[spec.name] else {
                throw ImportError(file: file, place: spec.name, "internal: no source for this tensor")
            }
            let values = try readWeights(h5, source, shape: spec.shape, dtype: options.dtype)
            parameters += values.count
            return values
        }
        let size = ((try? FileManager.default.attributesOfItem(atPath: output.path))?[.size] as? Int) ?? 0
        return ConversionReport(output: output, model: plan.model, tensorCount: plan.sources.count,
                                parameterCount: parameters, dropped: plan.dropped, dtype: options.dtype,
                                sourceSHA256: sha256, outputBytes: size)
    }

    /// What `output` may replace: nothing, or a `.telme` file (a regular file starting with the
    /// format's magic); anything else (another file, a link, a device such as `/dev/null`, a
    /// folder) only with `overwrite`, and never what is not a regular file: the converted model
    /// is renamed onto the path, which would replace the device or link itself.
    static func checkOutput(_ output: URL, overwrite: Bool) throws {
        let path = output.path
        var info = stat()
        guard lstat(path, &info) == 0 else { return }
        guard info.st_mode & S_IFMT == S_IFREG else {
            let what = info.st_mode & S_IFMT == S_IFLNK ? "is a symbolic link"
                : (RegularFile.kindProblem(info.st_mode) ?? "is not a regular file")
            throw ImportError(file: path, "\(what); telme replaces only .telme files: choose another --output")
        }
        guard overwrite || TelmeFile.hasMagic(path) else {
            throw ImportError(file: path, "exists and is not a .telme model; telme replaces only .telme files: "
                              + "choose another --output, or --overwrite to replace it")
        }
    }

    /// Checks an export and builds its model description and tensor map without reading any
    /// weights: format attributes, configs, tokenizer, then every tensor's name, element type
    /// and shape against `Architecture.tensorSpecs(for:)`.
    public static func makePlan(_ h5: some ExportContents, options: ConversionOptions) throws -> ImportPlan {
        let reader = ExportReader(h5: h5)
        let dataset = try reader.checkFormat()
        guard let labels = ModelDescription.defaultLabels(dataset: dataset) else {
            throw ImportError(file: reader.file, place: "/@\(ExportLayout.datasetAttribute)",
                              "unknown dataset \"\(dataset)\" (expected meld or iemocap)")
        }
        let components = try reader.components()
        let tokenizer = try reader.tokenizer()

        // The teacher: sizes the config cannot know come from the tensors.
        let teacher = try reader.config(of: "teacher")
        let embeddings = try reader.matrixShape("teacher", "text_model.embeddings.word_embeddings.weight")
        let projection = try reader.matrixShape("teacher", "W.weight")
        let classifier = try reader.matrixShape("teacher", "classifier.weight")
        let encoder = try teacher.roberta(vocabRows: embeddings[0])
        try reader.checkTokenizer(tokenizer, embeddingRows: embeddings[0], padTokenId: encoder.padTokenId)
        guard classifier[0] == labels.count else {
            throw ImportError(file: reader.file, place: "/teacher/classifier.weight",
                              "has \(classifier[0]) classes, but the \(dataset) dataset has \(labels.count) labels "
                                  + "(\(labels.joined(separator: ", ")))")
        }
        var model = ModelDescription(dataset: dataset, labels: labels,
                                     text: TextTeacherConfig(encoder: encoder, projectionDim: projection[0]),
                                     settings: Settings.defaults(dataset: dataset))
        if components.contains("audio") {
            model.audio = AudioStudentConfig(encoder: try reader.config(of: "audio").data2vecAudio())
        }
        if components.contains("video") {
            let video = try reader.config(of: "video").timesformer()
            model.video = VideoStudentConfig(encoder: video)
            model.settings.numFrames = video.numFrames
        }
        if components.contains("fusion") {
            guard var fusion = FusionConfig.defaults(dataset: dataset) else {
                throw ImportError(file: reader.file, place: "/fusion", "no ASF defaults for dataset \"\(dataset)\"")
            }
            if let heads = options.fusionHeads { fusion.numHeads = heads }
            if let beta = options.betaShift { fusion.betaShift = beta }
            model.fusion = fusion
        } else if options.fusionHeads != nil || options.betaShift != nil {
            throw ImportError(file: reader.file, "--fusion-heads and --beta-shift need a fusion, and the file has no /fusion")
        }
        if let value = options.speakerNumbering { model.settings.speakerNumbering = value }
        if let value = options.fusionOrder { model.settings.fusionOrder = value }
        if let value = options.channelOrder { model.settings.channelOrder = value }
        if let value = options.sampleRate { model.settings.sampleRate = value }
        try checkPositions(model, file: reader.file)
        if let problem = ModelDescriptionCheck.problem(in: model) {
            throw ImportError(file: reader.file, "the model it describes is invalid: \(problem)")
        }

        let (sources, dropped) = try reader.matchTensors(Architecture.tensorSpecs(for: model), components: components)
        return ImportPlan(model: model, sources: sources, dropped: dropped, tokenizer: tokenizer)
    }

    /// The teacher's input (the last `maxTextTokens` tokens, `<mask>`) must fit its position
    /// table: RoBERTa numbers positions from `pad_token_id + 1`.
    private static func checkPositions(_ model: ModelDescription, file: String) throws {
        let encoder = model.text.encoder
        let needed = model.settings.maxTextTokens + 2 + encoder.padTokenId
        guard encoder.maxPositionEmbeddings >= needed else {
            throw ImportError(file: file, place: "/teacher@config",
                              "field max_position_embeddings is \(encoder.maxPositionEmbeddings), but inputs of "
                                  + "\(model.settings.maxTextTokens + 1) tokens need \(needed)")
        }
    }

    /// One tensor's values, checked: count, finite, representable in `dtype`.
    static func readWeights(_ h5: HDF5File, _ source: String, shape: [Int], dtype: TensorDType) throws -> [Float] {
        let (fileShape, values) = try h5.readFloats(source)
        guard fileShape == shape else {
            // makePlan checked this; the file changed under us.
            throw ImportError(file: h5.url.path, place: source, "has shape \(fileShape), expected \(shape)")
        }
        let limit: Float = switch dtype {
        case .f16: 65520  // binary16 max 65504; from 65520 on, rounding gives infinity
        case .bf16: Float(bitPattern: 0x7F7F_8000)  // bf16 max 0x7F7F rounds up to infinity from here
        default: .infinity
        }
        for (index, value) in values.enumerated() where !(value.magnitude < limit) {
            let position = multiIndex(index, shape: shape)
            if value.isNaN {
                throw ImportError(file: h5.url.path, place: source, "element \(position) is NaN")
            } else if value.isInfinite {
                throw ImportError(file: h5.url.path, place: source, "element \(position) is \(value)")
            } else {
                throw ImportError(file: h5.url.path, place: source,
                                  "element \(position) is \(value), beyond the range of \(dtype.rawValue)")
            }
        }
        return values
    }

    /// `[i, j, ...]` of a flat row-major index.
    static func multiIndex(_ flat: Int, shape: [Int]) -> [Int] {
        var rest = flat
        var index = [Int](repeating: 0, count: shape.count)
        for axis in shape.indices.reversed() where shape[axis] > 0 {
            index[axis] = rest % shape[axis]
            rest /= shape[axis]
        }
        return index
    }
}
