import ArgumentParser

/// `telme convert` (not built yet).
struct Convert: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "convert", abstract: "Not implemented yet.")

    func run() async throws {
        throw ValidationError("telme convert is not implemented yet")
    }
}
