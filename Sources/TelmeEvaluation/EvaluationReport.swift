import Foundation
import TelmeFiles

extension Evaluation {
    /// The evaluation as one JSON object (snake_case keys, sorted, pretty-printed, newline at
    /// the end): the bytes of `evaluation.json` and of `telme evaluate --json`.
    public func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Writes `json()` to `url` atomically (`writeAtomically`: a synced temporary file renamed
    /// over it, the folder synced).
    public func write(to url: URL) throws {
        do {
            try writeAtomically(json(), to: url)
        } catch let error as FileError {
            throw EvaluationError(file: url.path, message: "cannot write: \(error.reason)")
        } catch {
            throw EvaluationError(file: url.path, message: "cannot write: \(AnnotationsReader.reason(error))")
        }
    }

    /// A readable report: counts, the averages, the per-class table and the confusion matrix,
    /// in fixed-width columns with 4 decimals ("." whatever the locale).
    public func text() -> String {
        let m = metrics
        var out = summaryLines()
        out.append("")

        let averaged = m.classes.filter(\.present).count
        out.append("accuracy     \(Self.fixed(m.accuracy))  (\(m.correct)/\(m.count))")
        out.append("weighted F1  \(Self.fixed(m.weighted.f1))  (the paper's metric: sklearn average='weighted')")
        out.append("macro F1     \(Self.fixed(m.macro.f1))  (over the \(averaged) classes in gold or predictions)")
        out.append("")

        let width = max(12, m.labels.map(\.count).max() ?? 0) + 2
        out += classTable(width: width)
        out.append("")

        out.append("confusion matrix (rows: gold, columns: predicted)")
        let cell = max(m.labels.map(\.count).max() ?? 0, String(m.count).count) + 2
        out.append(Self.pad("", width, right: false) + m.labels.map { Self.pad($0, cell) }.joined())
        for (label, row) in zip(m.labels, m.confusion) {
            out.append(Self.pad(label, width, right: false) + row.map { Self.pad(String($0), cell) }.joined())
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// Where the records and gold labels came from, the counts, notes and warnings.
    private func summaryLines() -> [String] {
        var out: [String] = []
        out.append("annotations: \(directory)")
        switch gold.kind {
        case "csv": out.append("gold labels: \(gold.path ?? "") (matched by dialogue and utterance index)")
        case "transcripts": out.append("gold labels: \(gold.path ?? "") (matched by each record's transcript and line)")
        default: out.append("gold labels: the records' gold field")
        }
        var countLine = "records: \(counts.records)  evaluated: \(counts.evaluated)"
        if counts.degraded > 0 { countLine += " (\(counts.degraded) degraded)" }
        countLine += "  failed: \(counts.failed)  without gold: \(counts.withoutGold)"
        out.append(countLine)
        if let notInCSV = counts.notInGoldFile, let unmatched = counts.goldRowsWithoutRecord {
            out.append("records not in the gold CSV: \(notInCSV)  gold rows without a record: \(unmatched)")
        }
        out.append("(\(excluded))")
        if !unknownGoldLabels.isEmpty {
            out.append("gold labels that are not model labels (scored as classes never predicted): "
                + unknownGoldLabels.map { "\"\($0.label)\" (\($0.count))" }.joined(separator: ", "))
        }
        for warning in warnings { out.append("warning: \(warning)") }
        return out
    }

    /// Per class: precision, recall, F1, support, predicted; then the two averages and which
    /// scores were set to 0. The first column is `width` wide.
    private func classTable(width: Int) -> [String] {
        let m = metrics
        var out: [String] = []
        out.append(Self.pad("class", width, right: false) + Self.pad("precision", 10) + Self.pad("recall", 10)
            + Self.pad("f1", 10) + Self.pad("support", 9) + Self.pad("predicted", 11))
        for c in m.classes {
            var row = Self.pad(c.label, width, right: false) + Self.pad(Self.fixed(c.precision), 10)
                + Self.pad(Self.fixed(c.recall), 10) + Self.pad(Self.fixed(c.f1), 10) + Self.pad(String(c.support), 9)
                + Self.pad(String(c.predicted), 11)
            if !c.present { row += "  (absent: not averaged)" }
            out.append(row)
        }
        for (name, scores) in [("weighted avg", m.weighted), ("macro avg", m.macro)] {
            out.append(Self.pad(name, width, right: false) + Self.pad(Self.fixed(scores.precision), 10)
                + Self.pad(Self.fixed(scores.recall), 10) + Self.pad(Self.fixed(scores.f1), 10)
                + Self.pad(String(m.count), 9))
        }
        if !m.undefinedPrecision.isEmpty {
            out.append("precision set to 0 for classes never predicted: " + m.undefinedPrecision.joined(separator: ", "))
        }
        if !m.undefinedRecall.isEmpty {
            out.append("recall set to 0 for classes never gold: " + m.undefinedRecall.joined(separator: ", "))
        }
        return out
    }

    /// `s` padded with spaces to `w` characters, on the left (`right`-aligned) or on the right.
    private static func pad(_ s: String, _ w: Int, right: Bool = true) -> String {
        let fill = String(repeating: " ", count: max(0, w - s.count))
        return right ? fill + s : s + fill
    }

    /// `value` with 4 decimals and a "." (no locale, no printf): half away from zero on the
    /// value times 10^4.
    static func fixed(_ value: Double) -> String {
        guard value.isFinite else { return value.isNaN ? "nan" : (value < 0 ? "-inf" : "inf") }
        let scaled = (abs(value) * 10_000).rounded(.toNearestOrAwayFromZero)
        guard scaled < 1e15 else { return String(value) }
        let units = Int(scaled)
        let fraction = String(units % 10_000)
        return (value < 0 && units > 0 ? "-" : "") + String(units / 10_000) + "."
            + String(repeating: "0", count: 4 - fraction.count) + fraction
    }
}
