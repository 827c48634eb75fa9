import ArgumentParser

/// `telme annotate` (not built yet).
struct Annotate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "annotate", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("telme annotate is not implemented yet")
    }
}
