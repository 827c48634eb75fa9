import Foundation
import TelmeFiles
import TelmeModels
import TelmeTensor
import TelmeCorpus

/// `run.json`: what produced an output folder, and how far it got. Written when a run starts
/// (state `running`), and again when it ends (`complete`, `interrupted`); `telme merge` writes
/// one for the merged folder (`merged`, or `incomplete` when utterances are missing).
///
/// A run resumes a folder only when everything that decides its records is the same
/// (`differences(from:)`): the model's fingerprint, the settings, the corpus's content (its
/// digest) and where it and its media are (canonical paths: `episodes/` and `./episodes`, or a
/// run from another working directory, are the same corpus), the output formats, the batch
/// size (it changes probabilities in the last bits), the threads and the shard.
public struct RunInfo: Codable, Sendable {
    public struct Model: Codable, Sendable {
        public var path: String
        /// `TelmeFile.fingerprint`: identifies the model file's content.
        public var fingerprint: String
        public var fileSize: Int
        public var sourceFile: String
        public var sourceSHA256: String
        public var dtype: String
        public var dataset: String
        public var labels: [String]

        // `sourceSHA256` as snake case is `source_sha256`, which reads back as `sourceSha256`.
        enum CodingKeys: String, CodingKey {
            case path, fingerprint, fileSize, sourceFile, sourceSHA256 = "sourceSha256", dtype, dataset, labels
        }

        public init(path: String, fingerprint: String, fileSize: Int, sourceFile: String, sourceSHA256: String,
                    dtype: String, dataset: String, labels: [String]) {
            self.path = path
            self.fingerprint = fingerprint
            self.fileSize = fileSize
            self.sourceFile = sourceFile
            self.sourceSHA256 = sourceSHA256
            self.dtype = dtype
            self.dataset = dataset
            self.labels = labels
        }
    }

    public struct CorpusInfo: Codable, Sendable, Equatable {
        /// The transcript (or episodes folder) as the command named it.
        public var path: String
        public var layout: String
        public var utterances: Int
        /// `RunPlan.digest(of:)`.
        public var digest: String
        /// `--media` as given (records name clips through it); nil when not given.
        public var media: String?
        /// `--dialogue-gap` (episodes).
        public var dialogueGap: Double
        /// `--text-only`.
        public var textOnly: Bool
        /// `--allow-outside-root`.
        public var allowOutsideRoot: Bool
        /// `path` and `media` absolute, with symbolic links and `..` resolved
        /// (`MediaLocator.resolved`): what a resumed run compares. Nil in folders of earlier versions.
        public var canonicalPath: String?
        public var canonicalMedia: String?

        public init(path: String, layout: String, utterances: Int, digest: String, media: String?,
                    dialogueGap: Double, textOnly: Bool, allowOutsideRoot: Bool, canonicalPath: String? = nil,
                    canonicalMedia: String? = nil) {
            self.path = path
            self.layout = layout
            self.utterances = utterances
            self.digest = digest
            self.media = media
            self.dialogueGap = dialogueGap
            self.textOnly = textOnly
            self.allowOutsideRoot = allowOutsideRoot
            self.canonicalPath = canonicalPath
            self.canonicalMedia = canonicalMedia
        }
    }

    /// How far the folder got.
    public enum State: String, Codable, Sendable {
        case running, interrupted, complete, merged, incomplete
    }

    public var tool = "telme"
    public var version: String
    public var commandLine: [String]
    public var model: Model
    public var fusion: FusionConfig?
    public var settings: Settings
    public var corpus: CorpusInfo
    public var formats: [OutputFormat]
    /// `--modality-probabilities`: the CSV holds each model's own probabilities (nil: no).
    public var modalityProbabilities: Bool?
    /// `--embeddings`: the folder holds `embeddings/` (nil: no).
    public var embeddings: Bool?
    public var batchSize: Int
    /// Threads of the matrix products (a few products change in their last bits with them, so
    /// a run continued with another count says so in `notes`, but is not refused).
    public var threads: Int
    /// The backend and precision of the products (part of the run's identity), and the
    /// kernels that ran them.
    public var compute: ComputeInfo?
    /// The shard this folder holds; nil for the whole corpus.
    public var shard: Shard?
    /// For a merged folder: the folders it was merged from.
    public var mergedFrom: [String]?
    /// What changed across the processes of a continued run without changing what it means
    /// (e.g. another thread count on a requeued node), one sentence each.
    public var notes: [String]?
    public var state: State
    /// Units in the plan of this folder (its shard's), and how many are done.
    public var units: Int
    public var unitsDone: Int
    public var counts: RunCounts
    /// Time taken by the run (by the last process, for a resumed run).
    public var seconds: Double

    public init(version: String, commandLine: [String], model: Model, fusion: FusionConfig?, settings: Settings,
                corpus: CorpusInfo, formats: [OutputFormat], batchSize: Int, threads: Int, compute: ComputeInfo? = nil,
                shard: Shard?, state: State, units: Int, unitsDone: Int = 0, counts: RunCounts = RunCounts(), seconds: Double = 0) {
        self.version = version
        self.commandLine = commandLine
        self.model = model
        self.fusion = fusion
        self.settings = settings
        self.corpus = corpus
        self.formats = formats
        self.batchSize = batchSize
        self.threads = threads
        self.compute = compute
        self.shard = shard
        self.state = state
        self.units = units
        self.unitsDone = unitsDone
        self.counts = counts
        self.seconds = seconds
    }

    /// What differs between two runs in a way that changes records, one phrase each; empty
    /// when a folder written by `other` can be continued by `self`.
    public func differences(from other: RunInfo) -> [String] {
        var found: [String] = []
        func check<T: Equatable>(_ what: String, _ mine: T, _ theirs: T, _ show: (T) -> String) {
            if mine != theirs { found.append("\(what) (\(show(theirs)) there, \(show(mine)) now)") }
        }
        check("the tool version", version, other.version) { $0 }
        check("the model", model.fingerprint, other.model.fingerprint) { "fingerprint \($0)" }
        check("the fusion", fusion, other.fusion) { $0.map { "\($0.numHeads) heads, beta_shift \($0.betaShift)" } ?? "none" }
        if settings != other.settings {
            let mine = Self.fields(settings), theirs = Self.fields(other.settings)
            for key in Set(mine.keys).union(theirs.keys).sorted() where mine[key] != theirs[key] {
                found.append("the setting \(key) (\(theirs[key] ?? "none") there, \(mine[key] ?? "none") now)")
            }
        }
        check("the corpus", corpus.canonicalPath ?? corpus.path, other.corpus.canonicalPath ?? other.corpus.path) { $0 }
        check("the corpus's content", corpus.digest, other.corpus.digest) { $0 }
        check("the layout", corpus.layout, other.corpus.layout) { $0 }
        check("--media", corpus.canonicalMedia ?? corpus.media, other.corpus.canonicalMedia ?? other.corpus.media) {
            $0 ?? "none"
        }
        check("--dialogue-gap", corpus.dialogueGap, other.corpus.dialogueGap) { "\($0)" }
        check("--text-only", corpus.textOnly, other.corpus.textOnly) { "\($0)" }
        check("--allow-outside-root", corpus.allowOutsideRoot, other.corpus.allowOutsideRoot) { "\($0)" }
        check("--format", formats, other.formats) { $0.map(\.rawValue).joined(separator: ",") }
        check("--modality-probabilities", modalityProbabilities ?? false, other.modalityProbabilities ?? false) { "\($0)" }
        check("--embeddings", embeddings ?? false, other.embeddings ?? false) { "\($0)" }
        check("--batch-size", batchSize, other.batchSize) { "\($0)" }
        check("--backend", compute?.backend, other.compute?.backend) { $0?.rawValue ?? "openblas" }
        check("--precision", compute?.precision, other.compute?.precision) { $0?.rawValue ?? "f32" }
        check("the shard", shard, other.shard) { $0.map(\.description) ?? "none" }
        if other.mergedFrom != nil { found.append("the folder is a merge of shards") }
        return found
    }

    /// Changes from `other` that a continued run records rather than refuses: a thread count
    /// changes the last bits of some products (data2vec-audio's), never the meaning of a record.
    /// `unitsDone` is this run's count of units already done.
    public func notes(continuing other: RunInfo) -> [String] {
        guard threads != other.threads else { return [] }
        return ["units after the first \(unitsDone) ran with --threads \(threads) (before: \(other.threads)); "
                + "a few audio products may differ in their last bits from a run with one thread count"]
    }

    /// Reads `run.json`.
    public static func read(from url: URL) throws -> RunInfo {
        let data: Data
        do throws(FileRefusal) { data = try RegularFile.read(url.path) } catch {
            throw PipelineError(.runDescription, path: error.path, error.reason)
        }
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(RunInfo.self, from: data)
        } catch {
            throw PipelineError(.runDescription, path: url.path,
                                "not a run.json this version of telme can continue (\(Self.reason(error)))")
        }
    }

    /// Writes `run.json` atomically.
    public func write(to url: URL) throws {
        try writeAtomically(Array(Self.json(self).utf8) + [UInt8(ascii: "\n")], to: url)
    }

    private static func json(_ value: some Encodable) -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return (try? encoder.encode(value)).flatMap { String(data: $0, encoding: .utf8) } ?? "?"
    }

    /// The settings as `snake_case name: JSON value`.
    private static func fields(_ settings: Settings) -> [String: String] {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        guard let data = try? encoder.encode(settings),
              let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return [:] }
        return object.mapValues { "\($0)" }
    }

    private static func reason(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): "no \(key.stringValue)"
        case DecodingError.typeMismatch(_, let c), DecodingError.valueNotFound(_, let c),
             DecodingError.dataCorrupted(let c):
            c.codingPath.map(\.stringValue).joined(separator: ".") + ": " + c.debugDescription
        default: "\(error)"
        }
    }
}

extension RunCounts {
    /// Counts of `statuses`.
    public init(_ statuses: some Sequence<RecordStatus>) {
        self.init()
        for status in statuses { add(status) }
    }

    /// Adds the counts of `statuses`.
    public mutating func add(contentsOf statuses: some Sequence<RecordStatus>) {
        for status in statuses { add(status) }
    }
}

/// How a run's products were computed.
public struct ComputeInfo: Codable, Equatable, Sendable {
    public var backend: Backend
    public var precision: Precision
    /// The library, its version and the kernels it ran (e.g. `oneDNN 2.6.3 (avx512_core_vnni)`).
    public var kernels: String
    public var cpu: String
    public var threads: Int

    public init(backend: Backend, precision: Precision, kernels: String, cpu: String, threads: Int) {
        self.backend = backend
        self.precision = precision
        self.kernels = kernels
        self.cpu = cpu
        self.threads = threads
    }
}
