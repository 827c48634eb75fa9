extension StringProtocol {
    /// The text on one line: each run of line breaks becomes one space, so that a message
    /// (an error, a problem a reader found) stays one line of a log or a terminal.
    public var oneLine: String {
        split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The text with each Unicode scalar that `replacement` maps replaced by what it gives
    /// (the escaping of a JSON string, of HTML, of JSON inside a `<script>`); other scalars stay.
    public func escaped(_ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        out.reserveCapacity(utf8.count)
        for scalar in unicodeScalars {
            if let replaced = replacement(scalar) { out += replaced } else { out.unicodeScalars.append(scalar) }
        }
        return out
    }
}
