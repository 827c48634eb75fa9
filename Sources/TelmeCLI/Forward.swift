import ArgumentParser

/// `telme forward` (not built yet).
struct Forward: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "forward", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("telme forward is not implemented yet")
    }
}
