import Foundation
import TelmeFiles

/// One finished unit, as `units.jsonl` records it: which utterances it holds, their statuses,
/// and where its records lie in `annotations.jsonl` and `annotations.csv` (byte ranges
/// `[start, end)`). A unit counts as done once its line (ending in a newline) is in the file.
public struct UnitEntry: Codable, Equatable, Sendable {
    /// Index of the unit in the run's plan (`RunPlan.units`).
    public var unit: Int
    /// Its first utterance (index into the corpus) and how many it holds.
    public var first: Int
    public var count: Int
    public var status: [RecordStatus]
    public var jsonl: [Int]?
    public var csv: [Int]?

    /// Whether the numbers are possible at all (non-negative, no overflow, one status per
    /// utterance, byte ranges in order): an entry read from a file is checked before any of
    /// its numbers makes a range.
    var isWellFormed: Bool {
        func pair(_ p: [Int]?) -> Bool { p.map { $0.count == 2 && $0[0] >= 0 && $0[0] <= $0[1] } ?? true }
        return unit >= 0 && first >= 0 && count >= 1 && !first.addingReportingOverflow(count).overflow
            && status.count == count && pair(jsonl) && pair(csv)
    }

    /// The bytes of `format`'s file that hold this unit's records.
    public func range(_ format: OutputFormat) -> Range<Int>? {
        let pair = format == .jsonl ? jsonl : format == .csv ? csv : nil
        guard let pair, pair.count == 2, pair[0] <= pair[1] else { return nil }
        return pair[0]..<pair[1]
    }
}

/// `units.jsonl`, the commit log of an output folder: one line per finished unit, appended and
/// synced after the unit's records are on disk. What is not in it is not done: a resumed run
/// cuts the output files back to the end of the last unit listed and carries on from there.
///
/// The file is also the folder's lock (`flock`): two runs never write one folder at once.
final class UnitJournal {
    static let fileName = "units.jsonl"
    let file: AppendFile

    /// Opens and locks the journal of `directory` (creating an empty one when absent).
    init(directory: URL) throws {
        file = try AppendFile(directory.appendingPathComponent(Self.fileName))
        guard file.tryLock() else {
            throw PipelineError(.locked, path: file.url.path, "another telme process is writing to this folder")
        }
    }

    /// Throws unless `entry` is a unit of `plan` as the plan cuts it (the corpus and the run's
    /// settings have not changed since it was written).
    func check(_ entry: UnitEntry, fits plan: RunPlan) throws {
        guard plan.units.indices.contains(entry.unit),
              plan.units[entry.unit] == entry.first..<(entry.first + entry.count),
              entry.status.count == entry.count else {
            throw PipelineError(.changedFolder, path: file.url.path, "unit \(entry.unit) does not fit the corpus")
        }
    }

    /// The units listed, in order. A last line cut short (the process died while writing it)
    /// is dropped, and with `repair` cut off the file; any other unreadable line is an error
    /// naming it.
    func read(repair: Bool = true) throws -> [UnitEntry] {
        let bytes = try file.readAll()
        var entries: [UnitEntry] = []
        var start = 0, line = 1
        let decoder = JSONDecoder()
        while let newline = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            do {
                let entry = try decoder.decode(UnitEntry.self, from: Data(bytes[start..<newline]))
                guard entry.isWellFormed else { throw PipelineError(.changedFolder, "impossible numbers") }
                entries.append(entry)
            } catch {
                throw PipelineError(.changedFolder, path: file.url.path, line: line,
                                    "not a unit entry; the folder was changed by hand? "
                                    + "(--overwrite starts the run again)")
            }
            start = newline + 1
            line += 1
        }
        if repair, start < bytes.count { try file.truncate(to: start) }
        return entries
    }

    /// Appends `entry` and (with `sync`) syncs the file: from here on the unit is done.
    func commit(_ entry: UnitEntry, sync: Bool = true) throws {
        try file.append(Self.line(entry))
        if sync { try file.sync() }
    }

    /// Empties the journal (a fresh run).
    func reset() throws { try file.truncate(to: 0) }

    /// The line of an entry: compact JSON with sorted keys (the same bytes on every run).
    static func line(_ entry: UnitEntry) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(((try? encoder.encode(entry)) ?? Data()) + [UInt8(ascii: "\n")])
    }
}
