extension StringProtocol {
    /// The text on one line: each run of line breaks becomes one space, so that a message
    /// (an error, a problem a reader found) stays one line of a log or a terminal.
    public var oneLine: String {
        split(whereSeparator: \.isNewline).joined(separator: " ")
    }
}
