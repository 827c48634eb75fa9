/// Precision, recall and F1 of one class.
public struct ClassScores: Sendable, Equatable, Codable {
    public var label: String
    /// `tp / predicted`; 0 when the class is never predicted (sklearn's `zero_division="warn"`).
    public var precision: Double
    /// `tp / support`; 0 when the class is never gold.
    public var recall: Double
    /// `2 tp / (support + predicted)`, which is the harmonic mean of the two when both are
    /// defined; 0 when the class is in neither gold nor predictions.
    public var f1: Double
    /// Gold occurrences.
    public var support: Int
    /// Predicted occurrences.
    public var predicted: Int
    /// In the gold labels or the predictions. Only present classes enter the averages,
    /// as with sklearn's `labels=None`.
    public var present: Bool

    public init(label: String, precision: Double, recall: Double, f1: Double, support: Int, predicted: Int,
                present: Bool) {
        self.label = label
        self.precision = precision
        self.recall = recall
        self.f1 = f1
        self.support = support
        self.predicted = predicted
        self.present = present
    }
}

/// An average of per-class scores.
public struct AveragedScores: Sendable, Equatable, Codable {
    public var precision: Double
    public var recall: Double
    public var f1: Double

    public init(precision: Double, recall: Double, f1: Double) {
        self.precision = precision
        self.recall = recall
        self.f1 = f1
    }
}

/// Single-label multi-class scores of predictions against gold labels, defined as scikit-learn's
/// `accuracy_score`, `precision_recall_fscore_support` and `confusion_matrix` define them.
///
/// The averages run over the classes that occur in the gold labels or the predictions
/// (sklearn's default `labels=None`, that is `unique_labels(y_true, y_pred)`): a class of the
/// model that occurs in neither is listed, with zeros, but does not lower the macro average.
/// `weighted` weights each class by its gold support (`average='weighted'`, the TelME paper's
/// metric), so classes that are only predicted count for nothing there; their false positives
/// still lower the precision of nothing but themselves, and the recall of the gold classes.
/// Divisions by zero give 0, as sklearn's `zero_division="warn"` does (it also warns; here
/// `undefinedPrecision` and `undefinedRecall` name those classes).
public struct ClassificationMetrics: Sendable, Equatable, Codable {
    /// The classes: the given labels in their order, then any other label that occurs (in
    /// Unicode scalar order). The order of `classes` and of the confusion matrix.
    public var labels: [String]
    /// `confusion[g][p]`: pairs with gold `labels[g]` predicted as `labels[p]`.
    public var confusion: [[Int]]
    /// Pairs scored.
    public var count: Int
    /// Pairs predicted right.
    public var correct: Int
    /// `correct / count`.
    public var accuracy: Double
    /// Support-weighted averages over the present classes (`average='weighted'`).
    public var weighted: AveragedScores
    /// Unweighted averages over the present classes (`average='macro'`).
    public var macro: AveragedScores
    /// One entry per label, in `labels` order.
    public var classes: [ClassScores]
    /// Present classes that are never predicted: their precision is 0 by convention.
    public var undefinedPrecision: [String]
    /// Present classes that are never gold: their recall is 0 by convention (and their weight 0).
    public var undefinedRecall: [String]

    /// Scores `pairs`; nil when there are none (nothing is defined then).
    ///
    /// - Parameter labels: the class order to report in (the model's labels); duplicates are ignored.
    public init?(pairs: [(gold: String, predicted: String)], labels: [String]) {
        guard !pairs.isEmpty else { return nil }
        let order = Self.classOrder(pairs, labels: labels)
        let confusion = Self.confusion(pairs, order: order)
        let n = order.count
        var support = [Int](repeating: 0, count: n), predicted = [Int](repeating: 0, count: n)
        var correct = 0
        for g in 0..<n {
            correct += confusion[g][g]
            for p in 0..<n {
                support[g] += confusion[g][p]
                predicted[p] += confusion[g][p]
            }
        }

        var classes: [ClassScores] = []
        for c in 0..<n {
            let tp = Double(confusion[c][c])
            classes.append(ClassScores(
                label: order[c],
                precision: predicted[c] == 0 ? 0 : tp / Double(predicted[c]),
                recall: support[c] == 0 ? 0 : tp / Double(support[c]),
                f1: support[c] + predicted[c] == 0 ? 0 : 2 * tp / Double(support[c] + predicted[c]),
                support: support[c], predicted: predicted[c], present: support[c] + predicted[c] > 0))
        }

        self.labels = order
        self.confusion = confusion
        self.count = pairs.count
        self.correct = correct
        self.accuracy = Double(correct) / Double(pairs.count)
        (self.weighted, self.macro) = Self.averages(classes)
        self.classes = classes
        self.undefinedPrecision = classes.filter { $0.present && $0.predicted == 0 }.map(\.label)
        self.undefinedRecall = classes.filter { $0.present && $0.support == 0 }.map(\.label)
    }

    /// `labels` without duplicates, then the other labels of the pairs in numpy's order.
    static func classOrder(_ pairs: [(gold: String, predicted: String)], labels: [String]) -> [String] {
        var order: [String] = []
        var seen: Set<String> = []
        for label in labels where seen.insert(label).inserted { order.append(label) }
        let extra = Set(pairs.flatMap { [$0.gold, $0.predicted] }).filter { !seen.contains($0) }
        return order + extra.sorted(by: Self.scalarOrder)
    }

    /// `confusion[gold][predicted]` counts in `order`.
    static func confusion(_ pairs: [(gold: String, predicted: String)], order: [String]) -> [[Int]] {
        let index = Dictionary(order.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        var confusion = [[Int]](repeating: [Int](repeating: 0, count: order.count), count: order.count)
        for (gold, predicted) in pairs {
            // Every label of a pair is in `order`.
            guard let g = index[gold], let p = index[predicted] else { continue }
            confusion[g][p] += 1
        }
        return confusion
    }

    /// The support-weighted and the plain means over the present classes. sklearn averages over
    /// unique_labels(y_true, y_pred), which numpy sorts; summing in that order keeps the last bit
    /// where sklearn has it.
    static func averages(_ classes: [ClassScores]) -> (weighted: AveragedScores, macro: AveragedScores) {
        let present = classes.filter(\.present).sorted { Self.scalarOrder($0.label, $1.label) }
        let weights = present.map { Double($0.support) }
        let total = NumPySum.sum(weights)
        func weightedMean(_ value: KeyPath<ClassScores, Double>) -> Double {
            NumPySum.sum(zip(present, weights).map { $0[keyPath: value] * $1 }) / total
        }
        func mean(_ value: KeyPath<ClassScores, Double>) -> Double {
            NumPySum.sum(present.map { $0[keyPath: value] }) / Double(present.count)
        }
        return (AveragedScores(precision: weightedMean(\.precision), recall: weightedMean(\.recall),
                               f1: weightedMean(\.f1)),
                AveragedScores(precision: mean(\.precision), recall: mean(\.recall), f1: mean(\.f1)))
    }

    /// numpy's order of strings: by Unicode scalar values.
    static func scalarOrder(_ a: String, _ b: String) -> Bool {
        a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) { $0.value < $1.value }
    }
}

/// The summation order of numpy's `add.reduce` over a contiguous float64 array, so that sums
/// of a few terms round as they do in sklearn.
enum NumPySum {
    /// `np.sum(values)` (numpy 1.26 sums a whole contiguous array pairwise, checked against
    /// it on random arrays of 1 to 400 terms).
    static func sum(_ values: [Double]) -> Double {
        pairwise(values[...])
    }

    /// numpy's `pairwise_sum` (loops_utils.h): a plain loop under 8 terms, eight interleaved
    /// partial sums up to 128, halves (a multiple of 8 on the left) above.
    static func pairwise(_ a: ArraySlice<Double>) -> Double {
        let n = a.count, s = a.startIndex
        if n < 8 {
            var res = 0.0
            for x in a { res += x }
            return res
        }
        if n <= 128 {
            var r = [Double](a[s..<(s + 8)])
            var i = 8
            while i < n - n % 8 {
                for j in 0..<8 { r[j] += a[s + i + j] }
                i += 8
            }
            var res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]))
            while i < n {
                res += a[s + i]
                i += 1
            }
            return res
        }
        var half = n / 2
        half -= half % 8
        return pairwise(a[s..<(s + half)]) + pairwise(a[(s + half)...])
    }
}
