import ArgumentParser

/// `telme tokenize` (not built yet).
struct Tokenize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "tokenize", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("telme tokenize is not implemented yet")
    }
}
