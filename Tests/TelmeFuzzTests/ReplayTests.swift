import Foundation
import Testing
import TelmeFuzz

/// Every committed fuzz input (seed corpora and the inputs that once crashed a reader), as
/// `(target, file name)`: `Fixtures/fuzz/<target>/<file>`.
private let inputs: [(FuzzTarget, String)] = {
    guard let root = Bundle.module.url(forResource: "fuzz", withExtension: nil, subdirectory: "Fixtures") else { return [] }
    return FuzzTarget.allCases.flatMap { target in
        let folder = root.appendingPathComponent(target.rawValue)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        return names.filter { !$0.hasPrefix(".") }.sorted().map { (target, $0) }
    }
}()

private func contents(_ target: FuzzTarget, _ name: String) throws -> Data {
    let url = try #require(Bundle.module.url(forResource: "fuzz", withExtension: nil, subdirectory: "Fixtures"))
    return try Data(contentsOf: url.appendingPathComponent(target.rawValue).appendingPathComponent(name))
}

@Suite struct FuzzReplayTests {
    /// Every target has a seed corpus, so that the replay below covers each reader.
    @Test(arguments: FuzzTarget.allCases)
    func everyTargetHasCommittedInputs(_ target: FuzzTarget) {
        #expect(inputs.contains { $0.0 == target }, "no inputs under Fixtures/fuzz/\(target.rawValue)")
    }

    /// The run-file targets' seeds are the files of the fixture folder as it is written now
    /// (`TELME_WRITE_FUZZ_SEEDS=DIR` writes them there, to commit them).
    @Test(arguments: [FuzzTarget.unitsJSONL, .runJSON, .annotationsJSONL])
    func runFileSeedsAreTheFixturesFiles(_ target: FuzzTarget) throws {
        let seed = try #require(target.runFileSeed())
        if let folder = ProcessInfo.processInfo.environment["TELME_WRITE_FUZZ_SEEDS"] {
            try seed.write(to: URL(fileURLWithPath: folder).appendingPathComponent("\(target.rawValue)-seed-run"))
        }
        #expect(try contents(target, "seed-run") == seed)
        #expect(target.run(seed) == .accepted)
    }

    /// A replayed input is accepted or refused with a one-line message naming the input; a
    /// crash (trap, overflow, bounds) stops the test process.
    @Test(arguments: inputs.map { "\($0.0.rawValue)/\($0.1)" })
    func replay(_ input: String) throws {
        let parts = input.split(separator: "/", maxSplits: 1).map(String.init)
        let target = try #require(FuzzTarget(rawValue: parts[0]))
        let outcome = target.run(try contents(target, parts[1]))
        if case .rejected(let message) = outcome {
            // The run-file targets read a whole folder: their messages name one of its files.
            let names = [.unitsJSONL, .runJSON, .annotationsJSONL].contains(target)
                ? ["units.jsonl", "run.json", "annotations.jsonl", "annotations.csv", "json/", "corpus.csv", "/work"]
                : [target.inputName]
            #expect(names.contains { message.contains($0) }, "message does not name the input: \(message)")
            #expect(!message.contains("\n"), "message is not one line: \(message)")
        }
        // Seeds are real, valid files: the readers must accept them.
        if parts[1].hasPrefix("seed-") {
            #expect(outcome == .accepted)
        }
    }
}
