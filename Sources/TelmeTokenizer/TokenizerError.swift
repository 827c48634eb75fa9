/// Why a tokenizer could not be built or used.
public enum TokenizerError: Error, Equatable, Sendable, CustomStringConvertible {
    /// A tokenizer file could not be read: its name and the reason.
    case unreadableFile(String, String)
    /// A tokenizer file was read but is not what it should be: its name and the reason.
    case invalidFile(String, String)
    /// A setting outside its range: the setting's name and the reason.
    case invalidSetting(String, String)

    public var description: String {
        switch self {
        case .unreadableFile(let file, let reason): "\(file): cannot read: \(reason)"
        case .invalidFile(let file, let reason): "\(file): \(reason)"
        case .invalidSetting(let name, let reason): "\(name): \(reason)"
        }
    }
}
