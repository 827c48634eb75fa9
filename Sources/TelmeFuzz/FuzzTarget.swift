import Foundation
@_spi(Fuzzing) import TelmeFormat
import TelmeImport
import TelmeCorpus
import TelmePipeline
import TelmeTokenizer

/// What a fuzz target made of one input: accepted, or refused with the error a user would see.
public enum FuzzOutcome: Sendable, Equatable {
    case accepted
    case rejected(String)
}

/// The fuzz targets: each feeds arbitrary bytes to one reader of untrusted input, exactly as the
/// tool does (no mocks), and turns every refusal into an outcome. A crash, a trap (overflow,
/// bounds, force unwrap) or a sanitizer report is a bug in the reader.
///
/// `Scripts/fuzz.sh TARGET` runs one under libFuzzer (`TelmeFuzzEntry`); `TelmeFuzzTests`
/// replays the committed corpora and crash files through the same functions.
public enum FuzzTarget: String, Sendable, CaseIterable {
    /// The `.telme` reader, from bytes in memory: once as a user's file is opened (every
    /// checksum), once without the header checksum so mutations reach the header JSON, the
    /// tensor table, the architecture checks and the weight conversion.
    case telme
    /// The `.telme` reader past every checksum, through model construction and one teacher
    /// forward pass: the input is a header JSON, a NUL byte, then a whole `.telme` file whose
    /// header is replaced by that JSON, and whose checksums (each tensor's, the header's) are
    /// computed again (`TelmeFile.withChecksumsRecomputed`). So a mutated header or mutated
    /// weights reach the model checks and the networks as a user's file would.
    case telmeModel = "telme-model"
    /// `units.jsonl` of an output folder, as resume, merge and evaluate read it (`RunFixture`).
    case unitsJSONL = "units-jsonl"
    /// `run.json` of an output folder, as resume, merge and evaluate read it.
    case runJSON = "run-json"
    /// `annotations.jsonl` of an output folder, as resume, merge and evaluate read it.
    case annotationsJSONL = "annotations-jsonl"
    /// The importer's checks of what an HDF5 export declares (attributes, group tree, dataset
    /// names, shapes and element types, configs, tokenizer), on a structure decoded from the
    /// bytes by `DeclaredExport`.
    case export
    /// The SRT transcript parser and the episode utterances built from it.
    case srt
    /// The WebVTT transcript parser and the episode utterances built from it.
    case vtt
    /// The transcript-CSV parser and the episode utterances built from it.
    case transcriptCSV = "transcript-csv"
    /// The WhisperX JSON transcript parser and the episode utterances built from it.
    case whisperXJSON = "whisperx-json"
    /// The corpus CSV reader and the MELD/IEMOCAP corpus built from its rows.
    case corpusCSV = "corpus-csv"

    /// The name errors give the input.
    public var inputName: String {
        switch self {
        case .telme, .telmeModel: "fuzz-input.telme"
        case .unitsJSONL: "units.jsonl"
        case .runJSON: "run.json"
        case .annotationsJSONL: "annotations.jsonl"
        case .export: "fuzz-input.h5"
        case .srt: "fuzz-input.srt"
        case .vtt: "fuzz-input.vtt"
        case .transcriptCSV, .corpusCSV: "fuzz-input.csv"
        case .whisperXJSON: "fuzz-input.json"
        }
    }

    /// Runs the target on one input.
    @discardableResult
    public func run(_ data: Data) -> FuzzOutcome {
        switch self {
        case .telme: Self.telme(data, name: inputName)
        case .telmeModel: Self.telmeModel(data, name: inputName)
        case .unitsJSONL, .runJSON, .annotationsJSONL: Self.runFile(data, name: inputName)
        case .export: Self.export(data, name: inputName)
        case .srt: Self.transcript(data, format: .srt, name: inputName)
        case .vtt: Self.transcript(data, format: .vtt, name: inputName)
        case .transcriptCSV: Self.transcript(data, format: .csv, name: inputName)
        case .whisperXJSON: Self.transcript(data, format: .json, name: inputName)
        case .corpusCSV: Self.corpusCSV(data, name: inputName)
        }
    }

    static func telme(_ data: Data, name: String) -> FuzzOutcome {
        // Past the header checksum first (mutations rarely keep it), and on to what `inspect`
        // and `annotate` do with an opened file; then as a user's file is opened, whose
        // outcome is the target's.
        _ = outcome {
            let file = try TelmeFile(bytes: data, name: name, verifyChecksums: false, verifyHeaderChecksum: false)
            let report = TelmeFileReport(file, includeTensors: true)
            _ = try report.text()
            _ = try report.json()
            for entry in file.tensorTable where entry.dtype.isFloat { _ = try file.weight(entry.name) }
            _ = try RobertaTokenizer.telme(vocabJSON: file.tokenizerFiles.vocabJSON, merges: file.tokenizerFiles.merges)
        }
        return outcome { _ = try TelmeFile(bytes: data, name: name, verifyChecksums: true, verifyHeaderChecksum: true) }
    }

    static func telmeModel(_ data: Data, name: String) -> FuzzOutcome {
        guard let split = data.firstIndex(of: 0),
              let file = TelmeFile.withChecksumsRecomputed(Data(data[(split + 1)...]), header: Data(data[..<split]))
        else { return .rejected("\(name): not a header, NUL, then a .telme file the fuzz target can walk") }
        return outcome {
            let model = try TelmeFile(bytes: file, name: name, verifyChecksums: true, verifyHeaderChecksum: true)
            let annotator = try Annotator(model: model, settings: model.model.settings, batchSize: 2)
            let corpus = Corpus(file: name, layout: .meld, utterances: [
                Utterance(dialogue: "0", index: 0, speaker: "A", text: "Oh my God!", line: 2),
                Utterance(dialogue: "0", index: 1, speaker: "B", text: "What?", line: 3),
            ])
            try annotator.annotate(corpus) { _, records in
                guard records.allSatisfy({ $0.probabilities.allSatisfy(\.isFinite) }) else {
                    throw PipelineError(.model, path: name, "the model gives probabilities that are not numbers")
                }
            }
        }
    }

    /// The run-file targets' seeds: the fixture folder's own file (what `annotate` writes).
    public func runFileSeed() -> Data? {
        guard [.unitsJSONL, .runJSON, .annotationsJSONL].contains(self) else { return nil }
        return try? RunFixture.shared?.pristineFile(inputName)
    }

    static func runFile(_ data: Data, name: String) -> FuzzOutcome {
        guard let fixture = RunFixture.shared else { return .rejected("\(name): the fuzz run folder cannot be written") }
        return outcome { try fixture.exercise(original: name, data: data) }
    }

    static func export(_ data: Data, name: String) -> FuzzOutcome {
        outcome {
            let export = try DeclaredExport(decoding: data, path: name)
            _ = try TelmeImporter.makePlan(export, options: ConversionOptions(converterVersion: "fuzz"))
        }
    }

    static func transcript(_ data: Data, format: TranscriptFormat, name: String) -> FuzzOutcome {
        outcome {
            let transcript = try Transcript.parse(data, format: format, file: name)
            let utterances = EpisodeCorpus.utterances(of: transcript, episode: "fuzz", video: "fuzz.mp4",
                                                      dialogueGap: EpisodeCorpus.defaultDialogueGap)
            for utterance in utterances { _ = (utterance.startSeconds, utterance.endSeconds, utterance.turn) }
        }
    }

    static func corpusCSV(_ data: Data, name: String) -> FuzzOutcome {
        outcome {
            let (rows, warnings) = try CSVReader.parse(data, file: name)
            let corpus = try Corpus(rows: rows, warnings: warnings, file: name, layout: nil)
            for utterance in corpus.utterances { _ = (utterance.startSeconds, utterance.endSeconds, utterance.turn) }
        }
    }

    private static func outcome(_ body: () throws -> Void) -> FuzzOutcome {
        do {
            try body()
            return .accepted
        } catch {
            return .rejected(String(describing: error))
        }
    }
}
