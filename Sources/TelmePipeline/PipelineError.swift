/// Why an annotation run, a resume or a merge stopped, in one line: `<path>[:<line>]: <what is
/// wrong>; <what to do>` (or the message alone when no file is concerned).
public struct PipelineError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The class of failure, for code that reacts to it; the message is for people.
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        /// `--out` (or a file or folder in it) is not one telme may write into.
        case outputFolder
        /// Another telme process holds the folder's journal lock.
        case locked
        /// The run folder does not agree with its journal: changed by hand or cut short.
        case changedFolder
        /// `run.json` cannot be read or is not one this version can continue.
        case runDescription
        /// An environment variable (a scheduler's shard index, a test hook) that makes no sense.
        case environment
        /// Shard folders that cannot be merged (another run, another corpus, a unit twice).
        case merge
        /// The model file cannot serve an annotation run.
        case model
        /// A broken promise inside telme (a bug), not the user's input.
        case internalError
    }

    public var kind: Kind
    /// The file or folder concerned, when there is one.
    public var path: String?
    /// 1-based line of `path`, when the problem is at one.
    public var line: Int?
    /// What is wrong and, where the user can act, what to do.
    public var message: String

    public init(_ kind: Kind, path: String? = nil, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.path = path
        self.line = line
        self.message = message
    }

    public var description: String {
        guard let path else { return message }
        if let line { return "\(path):\(line): \(message)" }
        return "\(path): \(message)"
    }
}
