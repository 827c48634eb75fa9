import ArgumentParser
import Foundation
import TelmeFormat
import TelmeModels
import TelmeCorpus

/// `telme validate`: the problems of a corpus and its media, before a long run; a model is
/// checked by `telme inspect`.
struct Validate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "validate",
        abstract: "Check a corpus and its media before annotating it (a model: telme inspect).",
        discussion: """
            Reads the corpus as annotate does and reports, one line each (file:line: dialogue D \
            utterance U: problem): missing media, containers that cannot be opened or probed, missing \
            audio or video streams, video streams without a frame, clips over the authors' duration \
            limit, spans past the end of their media, times that are not times, negative or \
            reversed, non-UTF-8 lines, duplicate (dialogue, utterance) ids, media outside the corpus \
            root. Media are opened and probed, never decoded whole. Exit status: 0 when clean, 1 when \
            problems were found, 2 for usage errors or an unreadable corpus.
            """)

    @Argument(help: "The corpus: a transcript CSV (meld, iemocap), a folder of episodes with transcripts, or one episode's transcript.")
    var corpusArgument: String?

    @Option(name: .customLong("corpus"), help: "The corpus, named as annotate names it (instead of the argument).")
    var corpusOption: String?

    /// The corpus, from the argument or `--corpus`.
    var corpus: String { corpusOption ?? corpusArgument ?? "" }

    @OptionGroup var corpusOptions: CorpusOptions

    @Option(help: "The model to be run (.telme): only the media it reads are checked, with its settings.")
    var model: String?

    @OptionGroup var output: JSONOption

    @Flag(help: "First print the dialogues as annotate reads them: per episode (or CSV) its dialogues, their times and speakers.")
    var preview = false

    func validate() throws {
        guard (corpusArgument == nil) != (corpusOption == nil) else {
            throw ValidationError("name the corpus once: as the argument or with --corpus")
        }
    }

    /// The problems of the corpus.
    func report() throws -> ValidationReport {
        let input = corpusOptions.input(corpus)
        let read = try input.read()
        var settings: Settings
        var needAudio = true, needVideo = true
        if let model {
            let file = try openModel(model, verifyChecksums: false)
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

    /// The dialogues of `corpus` as lines: a header per episode (or one for a CSV corpus), then
    /// per dialogue its id, time span, count and speakers in order (`?` for none).
    static func preview(_ corpus: Corpus) -> [String] {
        var lines: [String] = []
        var start = 0
        while start < corpus.utterances.count {
            // One group: an episode's utterances, or the whole CSV.
            let episode = corpus.utterances[start].episode
            var end = start
            while end < corpus.utterances.count, corpus.utterances[end].episode == episode { end += 1 }
            let group = corpus.utterances[start..<end]
            // Dialogues: runs that start at an utterance of index 0.
            var ranges: [Range<Int>] = []
            for i in group.indices {
                if i == group.startIndex || group[i].index == 0 { ranges.append(i..<(i + 1)) }
                else { ranges[ranges.count - 1] = ranges[ranges.count - 1].lowerBound..<(i + 1) }
            }
            var counts: [String: Int] = [:]
            for u in group { counts[u.speaker.isEmpty ? "?" : u.speaker, default: 0] += 1 }
            let speakers = counts.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
                .map { "\($0.key) \($0.value)" }.joined(separator: ", ")
            let name = episode.map { "\($0) (\(group.first?.transcript ?? "?"))" } ?? corpus.file
            lines.append("\(name): \(group.count) utterances, \(ranges.count) dialogues; speakers: \(speakers)")
            for range in ranges {
                let members = corpus.utterances[range]
                let times = members.compactMap(\.startSeconds).min().flatMap { first in
                    members.compactMap(\.endSeconds).max().map { "\(first)-\($0) s" }
                } ?? "no times"
                let order = members.map { $0.speaker.isEmpty ? "?" : $0.speaker }.joined(separator: ", ")
                lines.append("  \(corpus.utterances[range.lowerBound].dialogue)  \(times)  \(members.count) utterances: \(order)")
            }
            start = end
        }
        return lines
    }

    func run() async throws {
        if preview {
            // The dialogues as read without --allow-outside-root (its problems come in the report).
            var input = corpusOptions.input(corpus)
            input.allowOutsideRoot = false
            let read = try input.read()
            for line in Self.preview(read.corpus) { print(line) }
            for note in read.notes { print("note: \(note)") }
        }
        let report = try report()
        if output.json {
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
