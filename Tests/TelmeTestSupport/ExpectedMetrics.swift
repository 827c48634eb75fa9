/// scikit-learn's scores of one set of gold and predicted labels, as Tools/fixtures/evaluation.py
/// writes them: each case of TelmePipelineTests' `Fixtures/evaluation/cases.json`, and
/// TelmeCLITests' `evaluate-expected.json`. Decode with `.convertFromSnakeCase`.
public struct ExpectedMetrics: Decodable, Sendable {
    public struct Averages: Decodable, Sendable {
        public var precision: Double
        public var recall: Double
        public var f1: Double
    }

    public var name: String
    /// The model's labels, in the order telme reports them.
    public var labels: [String]
    /// `labels`, then any other label that occurs, in code point order.
    public var classes: [String]
    /// Indices into `classes`.
    public var gold: [Int]
    public var predicted: [Int]
    public var accuracy: Double
    public var weighted: Averages
    public var macro: Averages
    /// Per class of `classes`.
    public var precision: [Double]
    public var recall: [Double]
    public var f1: [Double]
    public var support: [Int]
    public var confusion: [[Int]]
}
