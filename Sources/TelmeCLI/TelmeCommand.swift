import Foundation
import ArgumentParser

/// The `telme` command: model conversion and batch emotion annotation.
public struct TelmeCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "telme",
        abstract: "Emotion recognition in conversation with TelME, natively.",
        version: TelmeVersion.string,
        subcommands: [
            Annotate.self, Validate.self, Merge.self, Convert.self, Inspect.self, Forward.self, Tokenize.self, Evaluate.self,
            ReportCommand.self,
            Bench.self, System.self,
        ]
    )

    public init() {}

    /// Parses the process's arguments and runs the command, then exits: 0 on success, the
    /// command's own `ExitCode` when it throws one, 2 for usage errors and for any other error
    /// (a refused model or corpus), whose one-line message goes to stderr.
    public static func run(_ arguments: [String]? = nil) async {
        let given = arguments ?? Array(CommandLine.arguments.dropFirst())
        if let first = given.first, !first.hasPrefix("-"), first != "help" {
            let names = configuration.subcommands.compactMap { $0.configuration.commandName }
            if !names.contains(first) {
                let hint = suggestion(for: first, among: names).map { "; did you mean \"\($0)\"?" }
                    ?? "; commands: " + names.joined(separator: ", ")
                FileHandle.standardError.write(Data("telme: unknown command \"\(first)\"\(hint)\n".utf8))
                exit(withError: ExitCode(2))
            }
        }
        do {
            var command = try parseAsRoot(arguments)
            if var asyncCommand = command as? AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let code as ExitCode {
            exit(withError: code)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                exit(withError: error)  // --help, --version
            }
            // Usage errors come with the usage; ours are one line naming the file and the place.
            // File names and contents in the message are escaped (Messages.escaped).
            let message = code == .validationFailure ? Messages.escaped(fullMessage(for: error), keepNewlines: true)
                : "error: " + Messages.escaped(Messages.describe(error))
            FileHandle.standardError.write(Data(("telme: " + message + "\n").utf8))
            exit(withError: ExitCode(2))
        }
    }
}

/// The tool's version, recorded in converted models and run outputs.
public enum TelmeVersion {
    public static let string = "0.1.0"
}
