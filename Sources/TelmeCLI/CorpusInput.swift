import ArgumentParser
import Foundation
import TelmeCorpus

/// `--layout` of a corpus: a CSV layout, episodes, or found out from the files.
enum LayoutChoice: String, ExpressibleByArgument, CaseIterable {
    case auto, meld, iemocap, episodes
}

/// How a corpus is read and where its media are: the same options for `annotate` and `validate`.
struct CorpusOptions: ParsableArguments {
    @Option(help: "Corpus layout: auto, meld, iemocap or episodes.")
    var layout: LayoutChoice = .auto

    @Option(help: ArgumentHelp("Media folder: MELD clips dia{D}_utt{U}.mp4, or the root of the CSV's relative paths.",
                               discussion: "Default: the CSV's Video_Path / Wav_Path, relative to the CSV's folder."))
    var media: String?

    @Option(help: "Episodes: a new dialogue starts after a silence longer than this many seconds.")
    var dialogueGap: Double = EpisodeCorpus.defaultDialogueGap

    @Flag(help: "Media files outside the corpus root (--media, or the CSV's folder): annotate reads them (refused otherwise), validate does not report them.")
    var allowOutsideRoot = false

    func validate() throws {
        guard dialogueGap.isFinite, dialogueGap >= 0 else { throw ValidationError("--dialogue-gap must be ≥ 0") }
    }

    /// `corpus` read with these options.
    func input(_ corpus: String, textOnly: Bool = false) -> CorpusInput {
        CorpusInput(corpus: corpus, layout: layout, media: media, dialogueGap: dialogueGap,
                    allowOutsideRoot: allowOutsideRoot, textOnly: textOnly)
    }
}

/// A corpus as `annotate` and `validate` name it: a transcript CSV, an episodes folder or one
/// episode's transcript, its layout, and where its media are.
struct CorpusInput {
    var corpus: String
    var layout: LayoutChoice
    var media: String? = nil
    var dialogueGap: Double
    /// Media outside the corpus root are read (see `MediaLocator`).
    var allowOutsideRoot = false
    /// `--text-only`: episode transcripts without a video are read too.
    var textOnly = false

    /// A read corpus with what the reader had to say about it.
    struct Read {
        var corpus: Corpus
        var warnings: [CorpusWarning]
        var episodeProblems: [EpisodeProblem]
        /// What is worth knowing but not a problem (cues without a speaker, counted per transcript).
        var notes: [CorpusWarning] = []
        /// One line each, problems first (as `annotate` prints them).
        var messages: [String] {
            episodeProblems.map(\.description) + warnings.map(\.description) + notes.map(\.description)
        }
    }

    /// Extensions of a transcript given alone as the corpus: that one episode is annotated.
    static let episodeTranscripts: Set<String> = ["srt", "vtt", "json"]

    /// Whether the corpus is one episode's transcript (`--corpus S01/E01.srt`): a `.srt`, `.vtt`
    /// or `.json` file, or any transcript with `--layout episodes`.
    var isEpisodeTranscript: Bool {
        var isFolder: ObjCBool = false
        guard FileManager.default.fileExists(atPath: corpus, isDirectory: &isFolder), !isFolder.boolValue else {
            return false
        }
        let ext = (corpus as NSString).pathExtension.lowercased()
        return Self.episodeTranscripts.contains(ext) || (layout == .episodes && TranscriptFormat(pathExtension: ext) != nil)
    }

    /// Reads the corpus of any layout.
    func read() throws -> Read {
        let url = URL(fileURLWithPath: corpus)
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        if isEpisodeTranscript {
            // The folder is the transcript's; its episode is the transcript's name in it.
            let name = (url.lastPathComponent as NSString).deletingPathExtension
            let episodes = try EpisodeCorpus.read(folder: url.deletingLastPathComponent(), dialogueGap: dialogueGap,
                                                  withoutVideo: textOnly, only: name, allowOutsideRoot: allowOutsideRoot)
            return Read(corpus: Corpus(file: corpus, layout: .episodes, utterances: episodes.utterances),
                        warnings: episodes.warnings, episodeProblems: episodes.problems, notes: episodes.unnamedSpeakers)
        }
        if layout == .episodes || (layout == .auto && exists && isFolder.boolValue) {
            let episodes = try EpisodeCorpus.read(folder: url, dialogueGap: dialogueGap, withoutVideo: textOnly,
                                                  allowOutsideRoot: allowOutsideRoot)
            return Read(corpus: Corpus(file: corpus, layout: .episodes, utterances: episodes.utterances),
                        warnings: episodes.warnings, episodeProblems: episodes.problems, notes: episodes.unnamedSpeakers)
        }
        var read = try Corpus(contentsOf: url, layout: CorpusLayout(rawValue: layout.rawValue))
        read.file = corpus  // records name the transcript as the user did
        return Read(corpus: read, warnings: read.warnings, episodeProblems: [])
    }

    /// The transcript's folder.
    private var folder: String {
        let transcriptFolder = (corpus as NSString).deletingLastPathComponent
        return transcriptFolder.isEmpty ? "." : transcriptFolder
    }

    /// The folder that relative paths of the corpus (and records' `source` and `transcript`)
    /// start from: the episodes folder, `--media` for IEMOCAP, the transcript's folder otherwise.
    var root: String {
        if isEpisodeTranscript { return folder }
        var isFolder: ObjCBool = false
        if FileManager.default.fileExists(atPath: corpus, isDirectory: &isFolder), isFolder.boolValue { return corpus }
        return folder
    }

    /// Where the media of `corpus` are.
    func locator(for corpus: Corpus, videoMarginSeconds: Double) -> MediaLocator {
        switch corpus.layout {
        case .meld:
            return MediaLocator(layout: .meld, root: folder, clipFolder: media, videoMarginSeconds: videoMarginSeconds,
                                allowOutsideRoot: allowOutsideRoot)
        case .iemocap:
            return MediaLocator(layout: .iemocap, root: media ?? folder, videoMarginSeconds: videoMarginSeconds,
                                allowOutsideRoot: allowOutsideRoot)
        case .episodes:
            return MediaLocator(layout: .episodes, root: root, videoMarginSeconds: 0,
                                allowOutsideRoot: allowOutsideRoot)
        }
    }
}
