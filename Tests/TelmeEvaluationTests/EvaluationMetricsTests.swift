import Foundation
import Testing
@testable import TelmeEvaluation

/// `ClassificationMetrics` against scikit-learn on hand-made and random label sets
/// (Tools/fixtures/evaluation.py writes the fixture).
@Suite struct EvaluationMetricsTests {
    struct Fixture: Decodable {
        var sklearn: String
        var cases: [Case]
    }

    struct Averages: Decodable {
        var precision: Double
        var recall: Double
        var f1: Double
    }

    struct Case: Decodable, CustomTestStringConvertible {
        var name: String
        var labels: [String]
        var classes: [String]
        var gold: [Int]
        var predicted: [Int]
        var accuracy: Double
        var weighted: Averages
        var macro: Averages
        var precision: [Double]
        var recall: [Double]
        var f1: [Double]
        var support: [Int]
        var confusion: [[Int]]

        var testDescription: String { name }
        var pairs: [(gold: String, predicted: String)] {
            zip(gold, predicted).map { (classes[$0], classes[$1]) }
        }
    }

    static let fixture: Fixture = {
        let url = Bundle.module.resourceURL!.appendingPathComponent("Fixtures/evaluation/cases.json")
        return try! JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }()

    /// Every number of a case, ours and sklearn's, by name.
    static func numbers(_ m: ClassificationMetrics, _ c: Case) -> [(String, Double, Double)] {
        var out: [(String, Double, Double)] = [
            ("accuracy", m.accuracy, c.accuracy),
            ("weighted precision", m.weighted.precision, c.weighted.precision),
            ("weighted recall", m.weighted.recall, c.weighted.recall),
            ("weighted f1", m.weighted.f1, c.weighted.f1),
            ("macro precision", m.macro.precision, c.macro.precision),
            ("macro recall", m.macro.recall, c.macro.recall),
            ("macro f1", m.macro.f1, c.macro.f1),
        ]
        for (i, s) in m.classes.enumerated() where i < c.classes.count {
            out += [("\(s.label) precision", s.precision, c.precision[i]), ("\(s.label) recall", s.recall, c.recall[i]),
                    ("\(s.label) f1", s.f1, c.f1[i])]
        }
        return out
    }

    @Test(arguments: fixture.cases)
    func matchesSklearn(_ c: Case) throws {
        let m = try #require(ClassificationMetrics(pairs: c.pairs, labels: c.labels))
        #expect(m.labels == c.classes)
        #expect(m.confusion == c.confusion)
        #expect(m.classes.map(\.support) == c.support)
        #expect(m.count == c.gold.count)
        // Same divisions, and sums in numpy's order over sklearn's sorted labels: bit for bit
        // (measured: 0 difference on every number of every case).
        for (name, ours, theirs) in Self.numbers(m, c) {
            #expect(ours == theirs, "\(c.name): \(name) \(ours) vs sklearn \(theirs)")
        }
    }

    @Test func largestDifferenceFromSklearn() throws {
        var worst = 0.0, count = 0
        for c in Self.fixture.cases {
            let m = try #require(ClassificationMetrics(pairs: c.pairs, labels: c.labels))
            for (_, ours, theirs) in Self.numbers(m, c) {
                worst = max(worst, abs(ours - theirs))
                count += 1
            }
        }
        #expect(count > 1000)
        #expect(worst == 0, "largest difference from sklearn \(Self.fixture.sklearn): \(worst) over \(count) numbers")
    }

    @Test func presentClassesAndUndefinedScores() throws {
        // fear is predicted only, anger gold only, joy in neither.
        let m = try #require(ClassificationMetrics(
            pairs: [("anger", "neutral"), ("neutral", "neutral"), ("neutral", "fear")],
            labels: ["anger", "fear", "joy", "neutral"]))
        #expect(m.classes.map(\.present) == [true, true, false, true])
        #expect(m.undefinedPrecision == ["anger"])
        #expect(m.undefinedRecall == ["fear"])
        // macro over anger, fear, neutral (joy absent): f1 = (0 + 0 + 2*1/(2+2)) / 3
        #expect(m.macro.f1 == 0.5 / 3)
        // weighted: anger 1 * 0, neutral 2 * 0.5, over 3 gold
        #expect(m.weighted.f1 == 1.0 / 3)
        #expect(m.accuracy == 1.0 / 3)
    }

    @Test func noPairsGiveNoMetrics() {
        #expect(ClassificationMetrics(pairs: [], labels: ["a"]) == nil)
    }

    @Test func numpySumOrder() {
        // Under 8 terms numpy adds left to right; from 8 on in eight partial sums.
        let small = [1e16, 1.0, 1.0, -1e16]
        #expect(NumPySum.sum(small) == ((1e16 + 1.0) + 1.0) + -1e16)
        let eight = [1e16, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, -1e16]
        #expect(NumPySum.sum(eight) == 6)  // what numpy 1.26 gives; left to right gives 0
    }

    @Test(arguments: [(0.0, "0.0000"), (1.0, "1.0000"), (0.5, "0.5000"), (0.67371, "0.6737"), (0.66666666, "0.6667"),
                      (0.99995, "1.0000"), (0.00004, "0.0000"), (12.5, "12.5000")])
    func fixedDecimals(value: Double, text: String) {
        #expect(Evaluation.fixed(value) == text)
    }
}
