import ArgumentParser

/// The `telme` command: model conversion and batch emotion annotation.
public struct TelmeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "telme",
        abstract: "Emotion recognition in conversation with TelME, natively.",
        version: TelmeVersion.string,
        subcommands: [
            Annotate.self, Convert.self, Inspect.self, Forward.self, Tokenize.self,
        ]
    )

    public init() {}
}

/// The tool's version, recorded in converted models and run outputs.
public enum TelmeVersion {
    public static let string = "0.1.0"
}
