import Foundation
import TelmePipeline

/// A corpus as `annotate` and `validate` name it: a transcript CSV or an episodes folder, its
/// layout, and where its media are.
struct CorpusInput {
    var corpus: String
    var layout: Annotate.LayoutChoice
    var media: String? = nil
    var dialogueGap: Double
    /// Media outside the corpus root are read (see `MediaLocator`).
    var allowOutsideRoot = false

    /// A read corpus with what the reader had to say about it.
    struct Read {
        var corpus: Corpus
        var warnings: [CorpusWarning]
        var episodeProblems: [EpisodeProblem]
        /// One line each, problems first (as `annotate` prints them).
        var messages: [String] { episodeProblems.map(\.description) + warnings.map(\.description) }
    }

    /// Reads the corpus of any layout.
    func read() throws -> Read {
        let url = URL(fileURLWithPath: corpus)
        var isFolder: ObjCBool = false
        let exists = FileManager.default.fileExists(atPath: url.path, isDirectory: &isFolder)
        if layout == .episodes || (layout == .auto && exists && isFolder.boolValue) {
            let episodes = try EpisodeCorpus.read(folder: url, dialogueGap: dialogueGap, allowOutsideRoot: allowOutsideRoot)
            return Read(corpus: Corpus(file: corpus, layout: .episodes, utterances: episodes.utterances),
                        warnings: episodes.warnings, episodeProblems: episodes.problems)
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
            return MediaLocator(layout: .episodes, root: self.corpus, videoMarginSeconds: 0,
                                allowOutsideRoot: allowOutsideRoot)
        }
    }
}
