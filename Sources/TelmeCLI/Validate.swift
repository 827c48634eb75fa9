import ArgumentParser
import Foundation
import TelmeFormat
import TelmeModels
import TelmePipeline

/// `telme validate`: the problems of a corpus, before a long run.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a corpus and its media before annotating it.",
        discussion: """
            Reads the corpus as annotate does and reports, one line each (file:line: dialogue D \
            utterance U: problem): missing media, containers that cannot be opened or probed, missing \
            audio or video streams, video streams without a frame, clips over the authors' duration \
            limit, spans past the end of their media, times that are not times, negative or \
            reversed, non-UTF-8 lines, duplicate (dialogue, utterance) ids, media outside the corpus \
            root. Media are opened and probed, never decoded whole. Exit status: 0 when clean, 1 when \
            problems were found, 2 for usage errors or an unreadable corpus.
            """)

    @Argument(help: "The corpus: a transcript CSV (meld, iemocap) or a folder of episodes with transcripts.")
    var corpus: String

    @Option(help: "Corpus layout: auto, meld, iemocap or episodes.")
    var layout: Annotate.LayoutChoice = .auto

    @Option(help: "Media folder, as for annotate.")
    var media: String?

    @Option(help: "Episodes: a new dialogue starts after a silence longer than this many seconds.")
    var dialogueGap: Double = EpisodeCorpus.defaultDialogueGap

    @Option(help: "The model to be run (.telme): only the media it reads are checked, with its settings.")
    var model: String?

    @Flag(help: "Do not report media outside the corpus root (annotate --allow-outside-root reads them).")
    var allowOutsideRoot = false

    @Flag(help: "Print one JSON document instead of lines.")
    var json = false

    func validate() throws {
        guard dialogueGap.isFinite, dialogueGap >= 0 else { throw ValidationError("--dialogue-gap must be ≥ 0") }
    }

    /// The problems of the corpus.
    func report() throws -> ValidationReport {
        let input = CorpusInput(corpus: corpus, layout: layout, media: media, dialogueGap: dialogueGap,
                                allowOutsideRoot: allowOutsideRoot)
        let read = try input.read()
        var settings: Settings
        var needAudio = true, needVideo = true
        if let model {
            let file = try TelmeFile(contentsOf: URL(fileURLWithPath: model), verifyChecksums: false)
            settings = file.model.settings
            needAudio = file.model.audio != nil
            needVideo = file.model.video != nil
        } else {
            settings = Settings.defaults(dataset: read.corpus.layout == .iemocap ? "iemocap" : "meld")
        }
        let validator = CorpusValidator(
            // A teacher-only model reads no media (annotate does not open them).
            locator: needAudio || needVideo
                ? input.locator(for: read.corpus, videoMarginSeconds: settings.videoMarginSeconds) : nil,
            needAudio: needAudio, needVideo: needVideo,
            durationLimit: read.corpus.layout == .meld ? settings.zeroMediaOverSeconds : nil)
        return validator.validate(read.corpus, warnings: read.warnings, episodeProblems: read.episodeProblems)
    }

    func run() async throws {
        let report = try report()
        if json {
            let encoder = JSONEncoder()
            encoder.keyEncodingStrategy = .convertToSnakeCase
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(report), as: UTF8.self))
        } else {
            for problem in report.problems { print(Messages.escaped(problem.description)) }
            let count = report.problems.count
            print("\(count) problem\(count == 1 ? "" : "s") in \(report.utterances) utterances and "
                + "\(report.mediaFiles) media files of \(report.corpus)")
        }
        if !report.isClean { throw ExitCode(1) }
    }
}
