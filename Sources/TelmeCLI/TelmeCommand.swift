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

    /// Parses the process's arguments and runs the command, exiting with its code.
    public static func run() async {
        // Spelled out so the async `main` is chosen over the synchronous one.
        let entry: () async -> Void = main
        await entry()
    }
}

/// The tool's version, recorded in converted models and run outputs.
public enum TelmeVersion {
    public static let string = "0.1.0"
}
