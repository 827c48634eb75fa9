import Foundation
import TelmeFormat
import TelmeModels
import TelmeCorpus

/// What a run over a corpus consists of, computed from the corpus alone so that every
/// process (a resumed run, each shard, `telme merge`) agrees on it: the units in corpus
/// order, the `json` documents (groups) and their file names, and which shard owns a unit.
public struct RunPlan: Sendable {
    /// A `json` document: a run of consecutive utterances of one dialogue (CSV corpora) or
    /// one episode (episodes layout).
    public struct Group: Sendable, Equatable {
        /// The dialogue id, or the episode's name.
        public var name: String
        /// Its file in `json/`: `name` made safe (see `fileNames(for:)`), unique in the run.
        public var fileName: String
        /// Its utterances (indices into the corpus).
        public var range: Range<Int>
    }

    /// The units in corpus order (`Annotator.units(of:semantics:)`).
    public let units: [Range<Int>]
    public let groups: [Group]
    /// The group of every utterance.
    public let groupOfUtterance: [Int]
    public let semantics: Settings.BatchSemantics

    public init(corpus: Corpus, semantics: Settings.BatchSemantics) {
        self.semantics = semantics
        units = Annotator.units(of: corpus.utterances, semantics: semantics)
        var names: [String] = [], ranges: [Range<Int>] = []
        var groupOf: [Int] = []
        groupOf.reserveCapacity(corpus.utterances.count)
        for (i, u) in corpus.utterances.enumerated() {
            let name = Self.groupName(u, layout: corpus.layout)
            // A new group where the name changes, or where the same dialogue id starts over.
            if names.last != name || u.index == 0 && corpus.layout != .episodes {
                names.append(name)
                ranges.append(i..<i)
            }
            ranges[ranges.count - 1] = ranges[ranges.count - 1].lowerBound..<(i + 1)
            groupOf.append(names.count - 1)
        }
        groups = zip(zip(names, Self.fileNames(for: names)), ranges).map {
            Group(name: $0.0, fileName: $0.1, range: $1)
        }
        groupOfUtterance = groupOf
    }

    /// The group (json document) of an utterance: the episode for the episodes layout (its
    /// dialogue ids are `<episode>#<n>`), the dialogue id otherwise.
    public static func groupName(_ u: Utterance, layout: CorpusLayout) -> String {
        guard layout == .episodes, let hash = u.dialogue.lastIndex(of: "#") else { return u.dialogue }
        return String(u.dialogue[..<hash])
    }

    /// The group of a unit: the group of its first utterance (with `independent` semantics a
    /// unit is one dialogue, so it lies within one group).
    public func group(ofUnit unit: Int) -> Group { groups[groupOfUtterance[units[unit].lowerBound]] }

    /// The units that `shard` owns, in corpus order (all of them for nil). A unit goes to the
    /// shard `XXH64(UTF-8 of its group's name, seed 0) mod count`: whole dialogues (whole
    /// episodes), the same on every machine and in every run.
    public func units(of shard: Shard?) -> [Int] {
        guard let shard, shard.count > 1 else { return Array(units.indices) }
        return units.indices.filter { Self.shard(ofKey: group(ofUnit: $0).name, count: shard.count) == shard.index }
    }

    /// The shard of a dialogue (or episode) name among `count`.
    public static func shard(ofKey key: String, count: Int) -> Int {
        Int(XXH64.hash(Array(key.utf8)) % UInt64(count))
    }

    /// File names for `json` documents, one per group name in order: `/`, `\`, control
    /// characters (NUL included) and a leading dot become `_`, the name is cut to 200 bytes of
    /// UTF-8, and a name that an earlier group already has (compared case-insensitively, for
    /// file systems that ignore case) gets `~2`, `~3`, ... So a document is always a plain file
    /// directly inside `json/`, and no group overwrites another.
    public static func fileNames(for names: [String]) -> [String] {
        var taken: Set<String> = []
        return names.map { name in
            let base = safeName(name)
            var candidate = base, k = 1
            while !taken.insert(candidate.lowercased()).inserted {
                k += 1
                candidate = "\(base)~\(k)"
            }
            return candidate + ".json"
        }
    }

    /// `name` made into one safe path component (without the extension).
    static func safeName(_ name: String) -> String {
        var scalars = String.UnicodeScalarView()
        var bytes = 0
        for scalar in name.unicodeScalars {
            let safe: Unicode.Scalar = scalar == "/" || scalar == "\\" || scalar.value < 0x20 || scalar.value == 0x7f
                ? "_" : scalar
            let width = String(safe).utf8.count
            guard bytes + width <= 200 else { break }
            scalars.append(safe)
            bytes += width
        }
        let text = String(scalars)
        return text.isEmpty || text.hasPrefix(".") ? "_" + text : text
    }

    /// A digest of everything the corpus gives the annotation (every field of every
    /// utterance, in order, and the transcript's file name that CSV records name): a changed
    /// corpus is a different run. Paths in it are as the corpus writes them (relative to its
    /// root for episodes), so the same corpus reached by another path has the same digest.
    public static func digest(of corpus: Corpus) -> String {
        var bytes: [UInt8] = Array(corpus.layout.rawValue.utf8)
        func field(_ text: String?) {
            guard let text else { bytes.append(0xff); return }
            let utf8 = Array(text.utf8)
            withUnsafeBytes(of: UInt64(utf8.count).littleEndian) { bytes += $0 }
            bytes += utf8
        }
        field(corpus.layout == .episodes ? nil : (corpus.file as NSString).lastPathComponent)
        for u in corpus.utterances {
            for text in [u.dialogue, String(u.index), u.utteranceID, u.speaker, u.text, u.gold, u.startTime,
                         u.endTime, u.videoPath, u.wavPath, String(u.line), String(u.cue), u.episode, u.transcript] {
                field(text)
            }
        }
        let hash = XXH64.hash(bytes)
        let hex = String(hash, radix: 16)
        return "xxh64:" + String(repeating: "0", count: 16 - hex.count) + hex
    }
}

/// One of `count` processes sharing a run: `index` in 0..<count.
public struct Shard: Codable, Equatable, Sendable, CustomStringConvertible {
    public var index: Int
    public var count: Int

    public init(index: Int, count: Int) {
        self.index = index
        self.count = count
    }

    /// `INDEX/COUNT`, 0-based.
    public var description: String { "\(index)/\(count)" }

    /// Parses `INDEX/COUNT` (0 ≤ INDEX < COUNT).
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let index = Int(parts[0]), let count = Int(parts[1]), count >= 1,
              index >= 0, index < count else { return nil }
        self.init(index: index, count: count)
    }

    /// The shard a scheduler gives this process, from its environment, with the variable it
    /// came from; nil when none is set.
    ///
    /// - Slurm job arrays: `SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` of
    ///   `SLURM_ARRAY_TASK_COUNT`; the array must be a plain range with step 1 (`--array=0-7`,
    ///   `--array=1-8`, `%` limits allowed), otherwise the indices would not be dense.
    /// - Kubernetes Indexed Jobs: `JOB_COMPLETION_INDEX` of `countOption`, or of
    ///   `TELME_SHARD_COUNT` (Kubernetes does not tell a pod the number of completions).
    public static func fromEnvironment(_ env: [String: String], countOption: Int?) throws -> (Shard, String)? {
        if let id = env["SLURM_ARRAY_TASK_ID"] {
            func number(_ name: String) throws -> Int {
                guard let text = env[name], let value = Int(text) else {
                    throw PipelineError(.environment,
                        "SLURM_ARRAY_TASK_ID is set but \(name) is \(env[name].map { "\"\($0)\"" } ?? "not set"); "
                            + "pass --shard INDEX/COUNT")
                }
                return value
            }
            let task = try number("SLURM_ARRAY_TASK_ID"), min = try number("SLURM_ARRAY_TASK_MIN")
            let max = try number("SLURM_ARRAY_TASK_MAX"), count = try number("SLURM_ARRAY_TASK_COUNT")
            let step = env["SLURM_ARRAY_TASK_STEP"].flatMap(Int.init) ?? 1
            guard step == 1, max - min + 1 == count, task >= min, task <= max else {
                throw PipelineError(.environment,
                                    "the Slurm array is not a range with step 1 (task \(id), min \(min), max \(max), "
                                    + "count \(count), step \(step)); use --array=0-N or pass --shard INDEX/COUNT")
            }
            return (Shard(index: task - min, count: count),
                    "SLURM_ARRAY_TASK_ID=\(task) - SLURM_ARRAY_TASK_MIN=\(min) of SLURM_ARRAY_TASK_COUNT=\(count)")
        }
        if let text = env["JOB_COMPLETION_INDEX"] {
            guard let index = Int(text), index >= 0 else {
                throw PipelineError(.environment, "JOB_COMPLETION_INDEX is \"\(text)\", not an index")
            }
            let countText = env["TELME_SHARD_COUNT"]
            guard let count = countOption ?? countText.flatMap(Int.init), count >= 1 else {
                throw PipelineError(.environment,
                                    "JOB_COMPLETION_INDEX is set but the number of shards is not: pass --shard-count N "
                                    + "or set TELME_SHARD_COUNT (the Job's completions)")
            }
            guard index < count else {
                throw PipelineError(.environment, "JOB_COMPLETION_INDEX=\(index) is not below the shard count \(count)")
            }
            return (Shard(index: index, count: count), "JOB_COMPLETION_INDEX=\(index) of \(count)")
        }
        return nil
    }
}
