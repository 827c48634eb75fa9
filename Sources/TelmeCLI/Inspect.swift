import ArgumentParser

/// `telme inspect` (not built yet).
struct Inspect: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "inspect", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("telme inspect is not implemented yet")
    }
}
