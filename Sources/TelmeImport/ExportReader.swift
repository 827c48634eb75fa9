import Foundation
import TelmeFormat
import TelmeHDF5
import TelmeModels
import TelmeTokenizer

/// Reads and checks the parts of an HDF5 export (`Schemas/hdf5-export.md`); every refusal
/// names the file and the group, dataset or attribute.
struct ExportReader {
    let h5: any ExportContents
    var file: String { h5.path }

    private func fail(_ place: String?, _ reason: String) -> ImportError {
        ImportError(file: file, place: place, reason)
    }

    /// Checks `format` and `format_version`; returns the `dataset` attribute.
    func checkFormat() throws -> String {
        guard let format = try h5.stringAttribute(ExportLayout.formatAttribute, of: "/") else {
            throw fail(nil, "not a telme HDF5 export (no \"format\" attribute); write it with Scripts/export_hdf5.py")
        }
        guard format == ExportLayout.formatName else {
            throw fail("/@format", "is \"\(format)\", expected \"\(ExportLayout.formatName)\"")
        }
        guard let version = try h5.int64Attribute(ExportLayout.versionAttribute, of: "/") else {
            throw fail("/@format_version", "missing")
        }
        guard version == ExportLayout.formatVersion else {
            throw fail("/@format_version", "is \(version); this telme reads version \(ExportLayout.formatVersion)")
        }
        guard let dataset = try h5.stringAttribute(ExportLayout.datasetAttribute, of: "/") else {
            throw fail("/@dataset", "missing")
        }
        return dataset
    }

    /// The component groups present, checking that nothing else is at the top level.
    func components() throws -> Set<String> {
        var found = Set<String>()
        var hasTokenizer = false
        for (name, kind) in try h5.members(of: "/") {
            if kind == .group, ExportLayout.components.contains(name) {
                found.insert(name)
            } else if kind == .group, name == ExportLayout.tokenizerGroup {
                hasTokenizer = true
            } else {
                throw fail("/\(name)", "unexpected \(kind.rawValue) at the top level "
                    + "(an export holds the groups teacher, audio, video, fusion, tokenizer)")
            }
        }
        guard found.contains("teacher") else { throw fail("/teacher", "missing (every model needs the text teacher)") }
        guard hasTokenizer else { throw fail("/tokenizer", "missing") }
        if found.contains("fusion"), !(found.contains("audio") && found.contains("video")) {
            throw fail("/fusion", "present, but the fusion needs both /audio and /video")
        }
        return found
    }

    /// `vocab.json` and `merges.txt`, byte for byte.
    func tokenizer() throws -> TokenizerFiles {
        let group = "/" + ExportLayout.tokenizerGroup
        let vocab = try h5.readBytes("\(group)/\(ExportLayout.vocabDataset)")
        let merges = try h5.readBytes("\(group)/\(ExportLayout.mergesDataset)")
        return TokenizerFiles(vocabJSON: Data(vocab), merges: Data(merges))
    }

    /// The tokenizer must parse and have exactly one id per embedding row (vocabulary plus the
    /// speaker tokens), with RoBERTa's padding id.
    func checkTokenizer(_ files: TokenizerFiles, embeddingRows: Int, padTokenId: Int) throws {
        let tokenizer: RobertaTokenizer
        do {
            tokenizer = try RobertaTokenizer.telme(vocabJSON: files.vocabJSON, merges: files.merges)
        } catch {
            throw fail("/tokenizer", "\(error)")
        }
        guard tokenizer.count == embeddingRows else {
            throw fail("/teacher/text_model.embeddings.word_embeddings.weight",
                       "has \(embeddingRows) rows, but the tokenizer has \(tokenizer.count) tokens "
                           + "(\(tokenizer.vocabularySize) in vocab.json + \(tokenizer.count - tokenizer.vocabularySize) "
                           + "speaker tokens)")
        }
        guard tokenizer.id(of: "<mask>") != nil else {
            throw fail("/tokenizer/vocab.json", "has no <mask> token, which the teacher's prompt needs")
        }
        guard let pad = tokenizer.id(of: "<pad>"), pad == padTokenId else {
            throw fail("/teacher@config", "field pad_token_id is \(padTokenId), but the tokenizer's <pad> is "
                + (tokenizer.id(of: "<pad>").map(String.init) ?? "missing"))
        }
    }

    /// The HF config of a component, from its `config` attribute.
    func config(of component: String) throws -> HFConfig {
        let place = "/\(component)@\(ExportLayout.configAttribute)"
        guard let json = try h5.stringAttribute(ExportLayout.configAttribute, of: "/\(component)") else {
            throw fail(place, "missing (the HF config.json text of the \(component) encoder)")
        }
        return try HFConfig(json: json, file: file, place: place)
    }

    /// The shape of a two-dimensional float tensor the description is sized from.
    func matrixShape(_ component: String, _ name: String) throws -> [Int] {
        let path = "/\(component)/\(name)"
        guard h5.exists(path) else { throw fail(path, "missing") }
        let info = try floatInfo(path)
        guard info.shape.count == 2 else {
            throw fail(path, "has shape \(info.shape), expected a matrix")
        }
        return info.shape
    }

    /// A dataset's info, refusing element types other than float16/32/64.
    func floatInfo(_ path: String) throws -> HDF5DatasetInfo {
        let expected = "float32, float16 or float64"
        let info: HDF5DatasetInfo
        do {
            info = try h5.datasetInfo(path)
        } catch let error as HDF5Error {
            if case .unsupportedElementType(let type) = error.kind {
                throw fail(path, "has element type \(type), expected \(expected)")
            }
            throw error
        }
        guard info.elementType.isFloatingPoint else {
            throw fail(path, "has element type \(info.elementType), expected \(expected)")
        }
        return info
    }

    /// Matches the export's datasets against the architecture: known-unused checkpoint tensors
    /// are dropped, anything unknown, missing or of the wrong shape or type is refused.
    /// Returns `.telme` name -> dataset path, and the dropped paths.
    func matchTensors(_ specs: [TensorSpec], components: Set<String>) throws -> ([String: String], [String]) {
        let expected = Dictionary(specs.map { ($0.name, $0.shape) }, uniquingKeysWith: { first, _ in first })
        var sources: [String: String] = [:]
        var dropped: [String] = []
        for component in ExportLayout.components where components.contains(component) {
            let unused = Architecture.unusedCheckpointTensors(component: component)
            for (name, kind) in try h5.members(of: "/\(component)") {
                let path = "/\(component)/\(name)"
                guard kind == .dataset else {
                    throw fail(path, "unexpected \(kind.rawValue) (a component group holds only tensors)")
                }
                if unused.contains(name) {
                    dropped.append(path)
                    continue
                }
                let info = try floatInfo(path)
                let fullName = ExportLayout.prefix(of: component) + name
                guard let shape = expected[fullName] else {
                    throw fail(path, "unknown tensor (shape \(info.shape)): not part of the \(component) architecture")
                }
                guard info.shape == shape else {
                    throw fail(path, "has shape \(info.shape), expected \(shape)")
                }
                sources[fullName] = path
            }
        }
        let missing = specs.filter { sources[$0.name] == nil }
        if let first = missing.first {
            let component = String(first.name.prefix { $0 != "." })
            let path = "/\(component)/\(first.name.dropFirst(component.count + 1))"
            let more = missing.count > 1 ? " (and \(missing.count - 1) more missing)" : ""
            throw fail(path, "missing, expected shape \(first.shape)\(more)")
        }
        return (sources, dropped)
    }
}
