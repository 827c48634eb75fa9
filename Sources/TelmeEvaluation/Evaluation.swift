import Foundation
import TelmeCorpus

/// The scores of an annotation folder against gold labels, with the counts of what was left
/// out: the content of `evaluation.json` and of `telme evaluate`'s output.
public struct Evaluation: Sendable, Equatable, Codable {
    /// Where the gold labels came from.
    public struct GoldSource: Sendable, Equatable, Codable {
        /// `records` (each record's `gold` field) or `csv`.
        public var kind: String
        /// The corpus CSV, for `csv`.
        public var path: String?
        /// How CSV rows are matched to records, for `csv`.
        public var matching: String?
    }

    /// How many records went where. `records == evaluated + failed + withoutGold`.
    public struct Counts: Sendable, Equatable, Codable {
        /// Records in `annotations.jsonl`.
        public var records: Int
        /// Records with a predicted and a gold label: the ones scored.
        public var evaluated: Int
        /// Of the evaluated, those labelled with fewer modalities than the model has.
        public var degraded: Int
        /// Records without a label (status failed): not scored.
        public var failed: Int
        /// Labelled records without a gold label: not scored.
        public var withoutGold: Int
        /// With `--gold`: labelled records that have no row in the CSV (counted in `withoutGold`).
        public var notInGoldFile: Int?
        /// With `--gold`: CSV rows that no record matches.
        public var goldRowsWithoutRecord: Int?
        /// With `--gold`: matched records whose own `gold` field differs from the CSV's.
        public var goldDisagreements: Int?
        /// Lines of `annotations.jsonl` that repeat an earlier line exactly (not counted in `records`).
        public var repeatedLines: Int?
    }

    /// A gold label the model cannot predict.
    public struct UnknownGold: Sendable, Equatable, Codable {
        public var label: String
        /// Scored records with this gold label (all wrong, necessarily).
        public var count: Int

        public init(label: String, count: Int) {
            self.label = label
            self.count = count
        }
    }

    /// The folder evaluated.
    public var directory: String
    public var gold: GoldSource
    /// The model's labels (`run.json`), in class-index order.
    public var modelLabels: [String]
    public var counts: Counts
    /// What the scores leave out, in words.
    public var excluded: String
    /// Gold labels that are not model labels. They are scored as classes the model never predicts.
    public var unknownGoldLabels: [UnknownGold]
    public var metrics: ClassificationMetrics
    /// Things the user should know (duplicate keys, disagreeing gold, ...).
    public var warnings: [String]

    static let exclusionNote = "failed records (no label) and records without a gold label are counted above "
        + "and left out of every score"
}

extension Evaluation {
    /// Evaluates the folder written by `telme annotate`: `run.json` for the class order and
    /// `annotations.jsonl` for the records; gold labels from the records, or from `goldCSV`
    /// matched by (dialogue, utterance index), or from `goldEpisodes` (episode transcripts read
    /// with their gold labels, named `goldPath`) matched by the records' own `transcript` and
    /// `line`, which the user's files give too.
    ///
    /// Throws `EvaluationError` for an unreadable or broken file (naming it and the line) and
    /// when no record has both a label and a gold label; `CorpusError` for a broken gold CSV.
    ///
    /// A line repeated exactly (a record appended twice) is counted once, with a warning. A gold
    /// label that is not one of the model's labels is refused (the gold file belongs to another
    /// dataset, or is misspelt) unless `allowUnknownGold`, which scores it as a class the model
    /// never predicts.
    public static func evaluate(directory: URL, goldCSV: URL? = nil, layout: CorpusLayout? = nil,
                                goldEpisodes: Corpus? = nil, goldPath: String? = nil,
                                allowUnknownGold: Bool = false) throws -> Evaluation {
        let labels = try AnnotationsReader.labels(runJSON: directory.appendingPathComponent("run.json"))
        let jsonl = directory.appendingPathComponent("annotations.jsonl")
        let read = try AnnotationsReader.distinctRecords(jsonl: jsonl, labels: labels)
        let records = read.records
        var warnings: [String] = []
        var counts = Counts(records: records.count, evaluated: 0, degraded: 0, failed: 0, withoutGold: 0)
        counts.repeatedLines = read.repeated.count
        if let (line, earlier) = read.repeated.first {
            warnings.append("\(jsonl.path):\(line): repeats line \(earlier) exactly; \(read.repeated.count) repeated "
                + "line\(read.repeated.count == 1 ? "" : "s") in all, each counted once")
        }

        // The gold label of each record, in record order.
        let golds: [String?]
        let source: GoldSource
        if let goldCSV {
            (golds, source) = try csvGolds(goldCSV, layout: layout, records: records, jsonl: jsonl, counts: &counts,
                                           warnings: &warnings)
        } else if let goldEpisodes {
            (golds, source) = episodeGolds(goldEpisodes, path: goldPath, records: records, counts: &counts)
        } else {
            golds = records.map(\.gold)
            source = GoldSource(kind: "records", path: nil, matching: nil)
        }
        if !allowUnknownGold {
            try checkKnown(golds, labels: labels, records: records, jsonl: jsonl, goldCSV: goldCSV)
        }
        let pairs = scoredPairs(records, golds: golds, counts: &counts)
        guard let metrics = ClassificationMetrics(pairs: pairs, labels: labels) else {
            throw EvaluationError(file: jsonl.path, message:
                "no record has both a predicted and a gold label (\(counts.records) records: \(counts.failed) failed, "
                + "\(counts.withoutGold) without gold)" + (goldCSV == nil ? "; give the corpus with --gold" : ""))
        }
        let known = Set(labels)
        let unknown = metrics.classes.filter { !known.contains($0.label) && $0.support > 0 }
            .map { UnknownGold(label: $0.label, count: $0.support) }
        return Evaluation(directory: directory.path, gold: source, modelLabels: labels, counts: counts,
                          excluded: exclusionNote, unknownGoldLabels: unknown, metrics: metrics, warnings: warnings)
    }

    /// The gold labels of a corpus CSV, matched by (dialogue, utterance index); counts the
    /// records it does not cover and warns where a record's own gold differs.
    private static func csvGolds(_ goldCSV: URL, layout: CorpusLayout?, records: [ScoredRecord], jsonl: URL,
                                 counts: inout Counts, warnings: inout [String]) throws -> ([String?], GoldSource) {
        let corpus = try Corpus(contentsOf: goldCSV, layout: layout)
        warnings += corpus.warnings.map(\.description)
        let match = GoldMatch(corpus: corpus, records: records)
        let golds = match.golds
        counts.notInGoldFile = zip(records, golds).filter { !$0.0.failed && $0.1 == nil && !match.matched($0.0) }.count
        counts.goldRowsWithoutRecord = match.unmatchedRows
        var disagreements = 0
        for (record, gold) in zip(records, golds) {
            if let own = record.gold, let gold, own != gold {
                if disagreements == 0 {
                    warnings.append("\(jsonl.path):\(record.line): the record's gold \"\(own)\" differs from "
                        + "\"\(gold)\" in \(goldCSV.path) (the CSV's is used)")
                }
                disagreements += 1
            }
        }
        counts.goldDisagreements = disagreements
        if disagreements > 1 {
            warnings.append("\(disagreements) records in all have a gold label that differs from the CSV's")
        }
        if match.duplicateKeys > 0 {
            warnings.append("\(match.duplicateKeys) (dialogue, utterance) keys occur more than once in the records; "
                + "the n-th such record is matched to the n-th CSV row with that key")
        }
        return (golds, GoldSource(kind: "csv", path: goldCSV.path,
                                  matching: "(dialogue, utterance index within the dialogue)"))
    }

    /// The gold labels of episode transcripts, matched by each record's (transcript, line).
    private static func episodeGolds(_ goldEpisodes: Corpus, path: String?, records: [ScoredRecord],
                                     counts: inout Counts) -> ([String?], GoldSource) {
        let match = TranscriptGoldMatch(corpus: goldEpisodes, records: records)
        let golds = match.golds
        counts.notInGoldFile = zip(records, golds).filter { !$0.0.failed && $0.1 == nil && !match.matched($0.0) }.count
        counts.goldRowsWithoutRecord = match.unmatchedCues
        counts.goldDisagreements = zip(records, golds).filter { record, gold in
            record.gold.map { own in gold.map { $0 != own } ?? false } ?? false
        }.count
        return (golds, GoldSource(kind: "transcripts", path: path ?? goldEpisodes.file,
                                  matching: "(transcript, line) of each record"))
    }

    /// Refuses a gold label that is not one of the model's labels, naming where it is.
    private static func checkKnown(_ golds: [String?], labels: [String], records: [ScoredRecord], jsonl: URL,
                                   goldCSV: URL?) throws {
        let known = Set(labels)
        guard let k = golds.firstIndex(where: { $0.map { !known.contains($0) } ?? false }) else { return }
        let where_ = goldCSV.map { "the gold CSV \($0.path) (matched to \(jsonl.path):\(records[k].line))" }
            ?? "\(jsonl.path):\(records[k].line)"
        throw EvaluationError(file: goldCSV?.path ?? jsonl.path, message:
            "gold label \"\(golds[k]!)\" in \(where_) is not one of the model's labels "
            + "(\(labels.joined(separator: ", "))): the gold labels are of another dataset or misspelt; "
            + "--allow-unknown-gold scores them as classes the model never predicts")
    }

    /// The (gold, predicted) pairs scored; counts the failed records, the degraded ones scored
    /// and those without gold.
    private static func scoredPairs(_ records: [ScoredRecord], golds: [String?],
                                    counts: inout Counts) -> [(gold: String, predicted: String)] {
        var pairs: [(gold: String, predicted: String)] = []
        pairs.reserveCapacity(records.count)
        for (record, gold) in zip(records, golds) {
            if record.failed {
                counts.failed += 1
            } else if let gold, let label = record.label {
                pairs.append((gold, label))
                if record.status == .degraded { counts.degraded += 1 }
            } else {
                counts.withoutGold += 1
            }
        }
        counts.evaluated = pairs.count
        return pairs
    }
}

/// Gold labels of a corpus CSV matched to records by (dialogue, utterance index). A key that
/// occurs more than once (a dialogue whose rows come back after other dialogues) is matched by
/// occurrence: the n-th record with the key gets the n-th row with it.
struct GoldMatch {
    struct Key: Hashable {
        var dialogue: String
        var utterance: Int
    }

    /// The CSV's gold label for each record (nil when unmatched or when the row has none).
    var golds: [String?] = []
    /// Which records found a row.
    private var found: Set<Int> = []
    var unmatchedRows = 0
    var duplicateKeys = 0

    init(corpus: Corpus, records: [ScoredRecord]) {
        var rows: [Key: [Utterance]] = [:]
        for u in corpus.utterances { rows[Key(dialogue: u.dialogue, utterance: u.index), default: []].append(u) }
        var used: [Key: Int] = [:]
        for record in records {
            let key = Key(dialogue: record.dialogue, utterance: record.utterance)
            let n = used[key, default: 0]
            used[key] = n + 1
            if n == 1 { duplicateKeys += 1 }
            if let candidates = rows[key], n < candidates.count {
                golds.append(candidates[n].gold)
                found.insert(record.line)
            } else {
                golds.append(nil)
            }
        }
        unmatchedRows = rows.reduce(0) { $0 + max(0, $1.value.count - used[$1.key, default: 0]) }
    }

    func matched(_ record: ScoredRecord) -> Bool { found.contains(record.line) }
}

/// Gold labels of episode transcripts matched to records by the cue's transcript and line,
/// which the records name and the user's transcripts hold: no id that only telme's output
/// reveals. A record's transcript matches the gold's of the same path relative to the corpus
/// root, or of its file name when the gold is one transcript.
struct TranscriptGoldMatch {
    struct Key: Hashable {
        var transcript: String
        var line: Int
    }

    var golds: [String?] = []
    private var found: Set<Int> = []
    var unmatchedCues = 0

    init(corpus: Corpus, records: [ScoredRecord]) {
        var cues: [Key: Utterance] = [:]
        for u in corpus.utterances { cues[Key(transcript: u.transcript ?? "", line: u.line)] = u }
        var used: Set<Key> = []
        for record in records {
            guard let transcript = record.transcript, let line = record.transcriptLine else {
                golds.append(nil)
                continue
            }
            let exact = Key(transcript: transcript, line: line)
            let byName = Key(transcript: (transcript as NSString).lastPathComponent, line: line)
            if let key = [exact, byName].first(where: { cues[$0] != nil }), let cue = cues[key] {
                golds.append(cue.gold)
                found.insert(record.line)
                used.insert(key)
            } else {
                golds.append(nil)
            }
        }
        unmatchedCues = cues.keys.filter { !used.contains($0) }.count
    }

    func matched(_ record: ScoredRecord) -> Bool { found.contains(record.line) }
}
