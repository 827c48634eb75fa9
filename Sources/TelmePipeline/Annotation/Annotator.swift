import Foundation
import TelmeFormat
import TelmeModels
import TelmeTensor
import TelmeTokenizer
import TelmeCorpus

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

/// Runs the TelME pipeline over a corpus and hands records to a sink unit by unit.
///
/// A unit is one dialogue (`independent` semantics): every batch is formed from the utterances
/// of one dialogue and the fusion attends within one utterance, so an utterance's result never
/// depends on how the corpus is ordered, split or sharded. With `official-batch4` a unit is the
/// authors' batch of 4 utterances in corpus order: the students see those 4 left-padded
/// together and ASF attends across them, and a missing modality always gets the zero input.
public final class Annotator {
    public let model: TelmeFile
    public let settings: Settings
    /// Utterances per teacher batch (within one unit).
    public let batchSize: Int
    /// Units whose media are decoded ahead of the one in the model (bounded memory: each holds
    /// at most a dialogue's clips).
    public let prefetchDepth: Int
    /// Records carry each model's vector (`AnnotationRecord.vectors`), for `--embeddings`.
    public var keepVectors = false
    private let description: ModelDescription
    private let teacher: TextTeacher
    private let audioStudent: AudioStudent?
    private let videoStudent: VideoStudent?
    private let fusion: Fusion?
    private let media: MediaLoader
    private var inputs: TeacherInputBuilder

    /// `description` is the model's own with any run-time overrides (fusion heads, beta_shift);
    /// its tensor shapes must be those of `model`.
    public init(model: TelmeFile, description: ModelDescription? = nil, settings: Settings, batchSize: Int = 8,
                prefetchDepth: Int = 2) throws {
        let description = description ?? model.model
        self.model = model
        self.description = description
        self.settings = settings
        self.batchSize = max(1, batchSize)
        self.prefetchDepth = max(1, prefetchDepth)
        // Errors name the file: the networks' own errors only know tensor names.
        func building<T>(_ what: String, _ make: () throws -> T) throws -> T {
            do { return try make() } catch {
                throw PipelineError(.model, path: model.url.path, "\(what): \(error); the file is not a usable model: "
                                                                  + "convert it again with telme convert")
            }
        }
        let networks: LoadedModel
        do {
            networks = try LoadedModel(description, weights: model)
        } catch {
            // The same message as every other part of the model that cannot be built.
            networks = try building(error.component) { throw error.reason }
        }
        teacher = networks.teacher
        audioStudent = networks.audio
        videoStudent = networks.video
        fusion = networks.fusion
        let tokenizer = try building("its tokenizer") {
            try RobertaTokenizer.telme(vocabJSON: model.tokenizerFiles.vocabJSON, merges: model.tokenizerFiles.merges)
        }
        guard tokenizer.count == description.text.encoder.vocabSize else {
            throw PipelineError(.model, path: model.url.path,
                                "the tokenizer has \(tokenizer.count) tokens but the teacher's "
                                + "embedding has \(description.text.encoder.vocabSize) rows")
        }
        // The converter's other tokenizer rules (ExportReader.checkTokenizer).
        guard tokenizer.id(of: "<mask>") != nil else {
            throw PipelineError(.model, path: model.url.path,
                                "the tokenizer has no <mask> token, which the teacher's prompt needs")
        }
        guard tokenizer.id(of: "<pad>") == description.text.encoder.padTokenId else {
            throw PipelineError(.model, path: model.url.path,
                "text.encoder.pad_token_id is \(description.text.encoder.padTokenId), "
                    + "but the tokenizer's <pad> is \(tokenizer.id(of: "<pad>").map(String.init) ?? "missing")")
        }
        inputs = try TeacherInputBuilder(tokenizer: tokenizer, maxTextTokens: settings.maxTextTokens)
        media = MediaLoader(settings: settings, imageSize: description.video?.encoder.imageSize ?? 224,
                            needAudio: audioStudent != nil, needVideo: videoStudent != nil,
                            minimumAudioSamples: audioStudent?.minimumSamples ?? 0)
    }

    /// Annotates the utterances of `corpus` in order, unit by unit; `sink` receives each unit
    /// (its range of indices into `corpus.utterances`: a dialogue, or a batch of 4 with
    /// `official-batch4`, see `units(of:semantics:)`) with its records. `only` selects the units
    /// to run (nil: all); skipped units are neither computed nor sunk, and the others get the
    /// same records as in a run over the whole corpus (speakers are numbered over all of it,
    /// since `official` numbering looks back across dialogues). `locator` finds the
    /// media and names each record's `source`; nil annotates from the transcript alone.
    /// `readMedia` false also annotates from the transcript alone but keeps the locator's names
    /// (`--text-only`): the modalities the model has are then `skipped`, not missing, and no zero
    /// input replaces them. `progress` gets the utterances done so far by this call after each
    /// model call, with the fraction of the unit under way (so it moves within a long dialogue).
    /// Returns the counts by status of the units run.
    @discardableResult
    public func annotate(_ corpus: Corpus, locator: MediaLocator? = nil, readMedia: Bool = true,
                         only: ((Range<Int>) -> Bool)? = nil, progress: ((Double) -> Void)? = nil,
                         sink: (Range<Int>, [AnnotationRecord]) throws -> Void) throws -> RunCounts {
        let numbering = SpeakerNumbering(rawValue: settings.speakerNumbering.rawValue) ?? .official
        // Speaker numbers over the whole corpus (official numbering looks back across
        // dialogues); each unit's input ids are built when it runs, from its recent turns.
        let turns = corpus.turns
        let context = TeacherInputBuilder.Context(turns, numbering: numbering)
        let official = settings.batchSemantics == .officialBatch4
        let units = Self.units(of: corpus.utterances, semantics: settings.batchSemantics).filter { only?($0) ?? true }
        // The media of the next units are decoded while the current one runs through the model.
        let media = self.media, zeroMissing = official || settings.missingMedia == .zero
        let prefetcher = Prefetcher(units, depth: prefetchDepth) { unit in
            guard readMedia else { return [MediaInputs](repeating: media.skipped, count: unit.count) }
            return unit.map { i in media.load(locator?.source(for: corpus.utterances[i]), zeroMissing: zeroMissing) }
        }
        defer { prefetcher.stop() }
        var counts = RunCounts()
        var done = 0
        for unit in units {
            guard let prepared = prefetcher.next() else {
                throw PipelineError(.internalError,
                                    "internal error: the media of utterances \(unit) were never prepared")
            }
            // Progress within the unit: one step per model call (teacher batch, audio clip, video batch).
            let steps = Double(max(1, stepCount(unit.count, prepared: prepared, official: official)))
            var stepsDone = 0.0
            let step = {
                stepsDone += 1
                progress?(Double(done) + Double(unit.count) * min(stepsDone, steps) / steps)
            }
            let records = try annotate(unit: unit, corpus: corpus, turns: turns, context: context, prepared: prepared,
                                       locator: locator, official: official, step: step)
            for record in records { counts.add(record.status) }
            try sink(unit, records)
            done += unit.count
            progress?(Double(done))
        }
        return counts
    }

    /// The units of a run in corpus order, as index ranges into `utterances`: one per dialogue
    /// (`independent`), or consecutive batches of 4 (`official-batch4`).
    public static func units(of utterances: [Utterance], semantics: Settings.BatchSemantics) -> [Range<Int>] {
        semantics == .officialBatch4 ? groups(of: 4, count: utterances.count) : dialogueRanges(utterances)
    }

    /// The model calls of a unit of `count` utterances: its teacher batches, audio clips (one
    /// batch in `official-batch4`) and video batches.
    private func stepCount(_ count: Int, prepared: [MediaInputs], official: Bool) -> Int {
        let audioClips = audioStudent == nil ? 0 : prepared.filter { $0.audio != nil }.count
        let videoClips = videoStudent == nil ? 0 : prepared.filter { $0.video != nil }.count
        func batches(_ n: Int) -> Int { (n + batchSize - 1) / batchSize }
        return batches(count) + (official ? min(audioClips, 1) : audioClips) + batches(videoClips)
    }

    /// What a record names as its `source` and `transcript` (see `AnnotationRecord`): the media
    /// file as the corpus names it, else the transcript; the transcript relative to the corpus
    /// root (for a CSV corpus, its file name).
    public static func names(of u: Utterance, in corpus: Corpus, locator: MediaLocator?)
        -> (source: String, transcript: String) {
        let transcript = u.transcript ?? (corpus.file as NSString).lastPathComponent
        return (locator?.recordSource(for: u) ?? transcript, transcript)
    }

    /// The records of the utterances `unit` (consecutive indices into `corpus.utterances`),
    /// whose prepared inputs are given in the same order; `step` is called after each model call.
    private func annotate(unit: Range<Int>, corpus: Corpus, turns: [DialogueTurn], context: TeacherInputBuilder.Context,
                          prepared: [MediaInputs], locator: MediaLocator?, official: Bool,
                          step: () -> Void) throws -> [AnnotationRecord] {
        let labels = description.labels
        let textLogits = teacherLogits(unit: unit, turns: turns, context: context, step: step)
        let audio = try audioOutputs(prepared, official: official, step: step)
        let video = try videoOutputs(prepared, official: official, step: step)

        let (fused, fusedVectors) = fusionOutputs(text: textLogits.hidden, audio: audio.hidden, video: video.hidden,
                                                  official: official)

        var records: [AnnotationRecord] = []
        for (k, i) in unit.enumerated() {
            let u = corpus.utterances[i]
            let input = prepared[k]
            let teacherRow = textLogits.logits.row(k)
            let final = fused[k] ?? teacherRow
            let probabilities = Self.softmax(final)
            let best = Self.argmax(final)
            var notes = input.notes
            let asked: Set<ModalityStatus> = [.ok, .skipped]
            let modalitiesOK = (audioStudent == nil || asked.contains(input.audioStatus))
                && (videoStudent == nil || asked.contains(input.videoStatus))
            if fusion != nil, fused[k] == nil, !modalitiesOK { notes.append("text-only prediction") }
            let names = Self.names(of: u, in: corpus, locator: locator)
            records.append(AnnotationRecord(
                source: names.source, episode: u.episode, transcript: names.transcript,
                cue: u.cue, line: u.line, dialogue: u.dialogue, utterance: u.index,
                speaker: u.speaker, start: u.startSeconds, end: u.endSeconds, text: u.text,
                label: labels[best], confidence: probabilities[best], probabilities: probabilities,
                textProbabilities: Self.softmax(teacherRow),
                audioProbabilities: audio.logits[k].map(Self.softmax),
                videoProbabilities: video.logits[k].map(Self.softmax),
                textLabel: labels[Self.argmax(teacherRow)],
                audioLabel: audio.logits[k].map { labels[Self.argmax($0)] },
                videoLabel: video.logits[k].map { labels[Self.argmax($0)] },
                textStatus: .ok,
                audioStatus: audioStudent == nil ? .missing : input.audioStatus,
                videoStatus: videoStudent == nil ? .missing : input.videoStatus,
                gold: u.gold, status: modalitiesOK ? .ok : .degraded,
                message: notes.joined(separator: "; "),
                vectors: keepVectors ? UtteranceVectors(text: Array(textLogits.hidden.row(k)), audio: audio.hidden[k].map(Array.init),
                                                        video: video.hidden[k].map(Array.init),
                                                        fused: fusedVectors[k].map(Array.init)) : nil))
        }
        return records
    }

    /// The fusion's logits and representation of the unit's utterances (by position in the
    /// unit) that have every student's input; none without a fusion.
    private func fusionOutputs(text: Tensor, audio: [ArraySlice<Float>?], video: [ArraySlice<Float>?], official: Bool)
        -> (logits: [Int: ArraySlice<Float>], vectors: [Int: ArraySlice<Float>]) {
        var fused: [Int: ArraySlice<Float>] = [:]
        var fusedVectors: [Int: ArraySlice<Float>] = [:]
        let members = audio.indices.filter { audio[$0] != nil && video[$0] != nil }
        guard let fusion, !members.isEmpty else { return (fused, fusedVectors) }
        let representation = fusion.representation(text: Tensor(stacking: members.map { text.row($0) }),
                                                   audio: Tensor(stacking: members.map { audio[$0]! }),
                                                   video: Tensor(stacking: members.map { video[$0]! }),
                                                   semantics: official ? .officialBatch4 : .independent,
                                                   order: settings.fusionOrder)
        let logits = fusion.head(representation)
        for (row, member) in members.enumerated() {
            fused[member] = logits.row(row)
            fusedVectors[member] = representation.row(row)
        }
        return (fused, fusedVectors)
    }

    /// The teacher's h_t and logits for the unit, batched `batchSize` at a time; each batch's
    /// input ids are built just before it runs (a unit may be a dialogue of 100,000 turns).
    private func teacherLogits(unit: Range<Int>, turns: [DialogueTurn], context: TeacherInputBuilder.Context,
                               step: () -> Void) -> (hidden: Tensor, logits: Tensor) {
        var hidden: [ArraySlice<Float>] = [], logits: [ArraySlice<Float>] = []
        for start in stride(from: unit.lowerBound, to: unit.upperBound, by: batchSize) {
            let members = start..<min(start + batchSize, unit.upperBound)
            let ids = members.map { inputs.inputIDs(turn: $0, of: turns, context: context) }
            let padded = TeacherInputBuilder.leftPad(ids, pad: inputs.tokenizer.padID)
            let (h, l) = teacher(inputIDs: padded.ids, attentionMask: padded.mask)
            for row in 0..<members.count {
                hidden.append(h.row(row))
                logits.append(l.row(row))
            }
            step()
        }
        return (Tensor(stacking: hidden), Tensor(stacking: logits))
    }

    /// The audio student's h_a and logits per utterance (nil where it had no input). Each clip
    /// runs alone, except in `official-batch4`, where the unit's clips are left-padded with
    /// zeros to the longest and run together without a mask, as in the authors' batches.
    private func audioOutputs(_ prepared: [MediaInputs], official: Bool, step: () -> Void)
        throws -> (hidden: [ArraySlice<Float>?], logits: [ArraySlice<Float>?]) {
        var hidden = [ArraySlice<Float>?](repeating: nil, count: prepared.count)
        var logits = hidden
        guard let audioStudent else { return (hidden, logits) }
        let clips = prepared.enumerated().compactMap { k, p in p.audio.map { (k, $0) } }
        if official, !clips.isEmpty {
            let width = clips.map(\.1.count).max() ?? 0
            var batch = Tensor(zeros: [clips.count, width])
            for (row, clip) in clips.enumerated() {
                let offset = row * width + width - clip.1.count
                batch.data.replaceSubrange(offset..<(offset + clip.1.count), with: clip.1)
            }
            let (h, l) = try audioStudent(batch)
            for (row, clip) in clips.enumerated() {
                hidden[clip.0] = h.row(row)
                logits[clip.0] = l.row(row)
            }
            step()
        } else {
            for (k, samples) in clips {
                let (h, l) = try audioStudent(Tensor(shape: [1, samples.count], data: samples))
                hidden[k] = h.row(0)
                logits[k] = l.row(0)
                step()
            }
        }
        return (hidden, logits)
    }

    /// The video student's h_v and logits per utterance (nil where it had no input); clips of a
    /// unit run in batches of `batchSize` (the student treats batch members independently).
    private func videoOutputs(_ prepared: [MediaInputs], official: Bool, step: () -> Void)
        throws -> (hidden: [ArraySlice<Float>?], logits: [ArraySlice<Float>?]) {
        var hidden = [ArraySlice<Float>?](repeating: nil, count: prepared.count)
        var logits = hidden
        guard let videoStudent else { return (hidden, logits) }
        let clips = prepared.enumerated().compactMap { k, p in p.video.map { (k, $0) } }
        for start in stride(from: 0, to: clips.count, by: batchSize) {
            let chunk = clips[start..<min(start + batchSize, clips.count)]
            guard let shape = chunk.first?.1.shape else { continue }
            var data: [Float] = []
            data.reserveCapacity(chunk.count * (chunk.first?.1.count ?? 0))
            for (_, clip) in chunk { data += clip.data }
            let (h, l) = videoStudent(Tensor(shape: [chunk.count] + shape, data: data))
            for (row, clip) in chunk.enumerated() {
                hidden[clip.0] = h.row(row)
                logits[clip.0] = l.row(row)
            }
            step()
        }
        return (hidden, logits)
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

    /// Consecutive groups of `size` (the last may be shorter).
    static func groups(of size: Int, count: Int) -> [Range<Int>] {
        stride(from: 0, to: count, by: size).map { $0..<min($0 + size, count) }
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

extension Tensor {
    /// Rows of equal width stacked into a `[rows.count, width]` tensor.
    init(stacking rows: [ArraySlice<Float>]) {
        let width = rows.first?.count ?? 0
        var data: [Float] = []
        data.reserveCapacity(rows.count * width)
        for row in rows { data += row }
        self.init(shape: [rows.count, width], data: data)
    }
}
