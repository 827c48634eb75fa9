import Foundation
import TelmeFormat
import TelmeModels
import TelmeTensor
import TelmeTokenizer

/// Counts of a finished run, by record status.
public struct RunCounts: Sendable, Equatable, Codable {
    public var ok = 0
    public var degraded = 0
    public var failed = 0
    public init() {}

    public var total: Int { ok + degraded + failed }

    mutating func add(_ status: RecordStatus) {
        switch status {
        case .ok: ok += 1
        case .degraded: degraded += 1
        case .failed: failed += 1
        }
    }
}

/// Runs a TelME model over a corpus, dialogue by dialogue, and hands each dialogue's records
/// to a sink as soon as they are finished.
///
/// The teacher sees each dialogue in batches formed only from that dialogue's utterances, so
/// an utterance's result never depends on how the corpus is ordered, split or sharded.
public final class Annotator {
    public let model: TelmeFile
    public let settings: Settings
    /// Utterances per teacher batch (within one dialogue).
    public let batchSize: Int
    private let teacher: TextTeacher
    private var inputs: TeacherInputBuilder

    public init(model: TelmeFile, settings: Settings, batchSize: Int = 8) throws {
        self.model = model
        self.settings = settings
        self.batchSize = max(1, batchSize)
        teacher = try TextTeacher(model: model.model, weights: model)
        let tokenizer = try RobertaTokenizer.telme(vocabJSON: model.tokenizerFiles.vocabJSON,
                                                   merges: model.tokenizerFiles.merges)
        guard tokenizer.count == model.model.text.encoder.vocabSize else {
            throw PipelineError("\(model.url.path): the tokenizer has \(tokenizer.count) tokens but the teacher's "
                                + "embedding has \(model.model.text.encoder.vocabSize) rows")
        }
        inputs = try TeacherInputBuilder(tokenizer: tokenizer, maxTextTokens: settings.maxTextTokens)
    }

    /// Annotates every utterance of `corpus` in order; `sink` receives each dialogue's records.
    /// Returns the counts by status.
    @discardableResult
    public func annotate(_ corpus: Corpus, progress: ((Int) -> Void)? = nil,
                         sink: ([AnnotationRecord]) throws -> Void) throws -> RunCounts {
        let numbering = SpeakerNumbering(rawValue: settings.speakerNumbering.rawValue) ?? .official
        let ids = inputs.inputIDs(corpus.turns, numbering: numbering)
        let labels = model.model.labels
        let hasMedia = model.model.audio != nil || model.model.video != nil
        var counts = RunCounts()
        var done = 0
        for range in Self.dialogueRanges(corpus.utterances) {
            var records: [AnnotationRecord] = []
            for batch in stride(from: range.lowerBound, to: range.upperBound, by: batchSize) {
                let members = batch..<min(batch + batchSize, range.upperBound)
                let padded = TeacherInputBuilder.leftPad(Array(ids[members]), pad: inputs.tokenizer.padID)
                let (_, logits) = teacher(inputIDs: padded.ids, attentionMask: padded.mask)
                for (row, i) in members.enumerated() {
                    let probabilities = Self.softmax(logits.row(row))
                    let best = Self.argmax(logits.row(row))
                    let u = corpus.utterances[i]
                    var record = AnnotationRecord(
                        source: corpus.file, dialogue: u.dialogue, utterance: u.index, speaker: u.speaker,
                        start: u.startSeconds, end: u.endSeconds, text: u.text, label: labels[best],
                        confidence: probabilities[best], probabilities: probabilities, textLabel: labels[best],
                        gold: u.gold)
                    if hasMedia {
                        record.status = .degraded
                        record.message = "no media given: text-only prediction"
                    }
                    counts.add(record.status)
                    records.append(record)
                }
                done += members.count
                progress?(done)
            }
            try sink(records)
        }
        return counts
    }

    /// Index ranges of consecutive utterances of one dialogue.
    static func dialogueRanges(_ utterances: [Utterance]) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var start = 0
        for i in utterances.indices where i > 0 && utterances[i].index == 0 {
            ranges.append(start..<i)
            start = i
        }
        if !utterances.isEmpty { ranges.append(start..<utterances.count) }
        return ranges
    }

    /// Softmax in double precision, returned as floats.
    static func softmax(_ logits: ArraySlice<Float>) -> [Float] {
        let top = Double(logits.max() ?? 0)
        let e = logits.map { exp(Double($0) - top) }
        let sum = e.reduce(0, +)
        return e.map { Float($0 / sum) }
    }

    /// Index of the largest value (the first one on ties, like torch.argmax).
    static func argmax(_ values: ArraySlice<Float>) -> Int {
        var best = values.startIndex
        for i in values.indices where values[i] > values[best] { best = i }
        return best - values.startIndex
    }
}
