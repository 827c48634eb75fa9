import Foundation
import Testing
@testable import TelmeTokenizer
import TelmeTestSupport

/// Paths of test data: the committed fixtures and the optional `../shared` next to the repository.
enum TestData {
    static var fixtures: URL {
        get throws {
            try #require(Bundle.module.url(forResource: "Fixtures", withExtension: nil))
        }
    }

    /// `<repo>/../shared`.
    static let shared = TestPaths.shared

    static let robertaDirectory = shared.appendingPathComponent("tokenizers/roberta")
    static let hasRoberta = FileManager.default.fileExists(atPath: robertaDirectory.appendingPathComponent("vocab.json").path)
    /// The real tokenizer, loaded once.
    static let roberta = Result { try RobertaTokenizer.telme(directory: robertaDirectory) }
    static let noRoberta: Comment = "needs ../shared/tokenizers/roberta (the real RoBERTa vocabulary), absent here"

    /// `{"cases": [{"text": ..., "ids": [...], "tokens": [...]?}]}` as written by Tools/fixtures/token_golden.py.
    struct Cases: Decodable {
        struct Case: Decodable {
            var text: String
            var ids: [Int]
            var tokens: [String]?
        }
        var count: Int?
        var cases: [Case]
    }

    static func cases(_ relativePath: String) throws -> Cases {
        let data = try Data(contentsOf: try fixtures.appendingPathComponent(relativePath))
        return try JSONDecoder().decode(Cases.self, from: data)
    }
}
