import Foundation
import TelmeFiles
import TelmeCorpus

/// `telme merge`: the output folders of shards (or of any runs over parts of one corpus with
/// one model and one set of settings) combined into one folder, in corpus order, byte for byte
/// what one process over the whole corpus writes (`run.json` aside).
public enum ShardMerge {
    /// What a merge found.
    public struct Report: Sendable {
        public var info: RunInfo
        /// Units of the plan that no folder holds (index ranges into the corpus).
        public var missing: [Range<Int>]
        /// Utterances whose record has status `failed`.
        public var failed: [Int]
    }

    /// Merges `folders` into `out` (emptied first); `corpus` must be the one they annotated
    /// (checked by its digest).
    public static func merge(_ folders: [URL], into out: URL, corpus: Corpus, commandLine: [String]) throws -> Report {
        let infos = try runInfos(of: folders, out: out)
        let base = infos[0]
        try checkOneRun(folders, infos: infos, corpus: corpus)
        let plan = RunPlan(corpus: corpus, semantics: base.settings.batchSemantics)
        let sources = try unitSources(folders, formats: base.formats, plan: plan, corpus: corpus)

        let writer = try OutputWriter(directory: out, labels: base.model.labels, formats: base.formats, plan: plan,
                                      modalityProbabilities: base.modalityProbabilities ?? false)
        try? FileManager.default.removeItem(at: out.appendingPathComponent("run.json"))
        writer.syncEachUnit = false  // a merge interrupted is simply run again
        try writer.start(fresh: true)
        var documents: [String: [String]] = [:]
        var report = Report(info: base, missing: [], failed: [])
        var counts = RunCounts()
        for (unit, source) in sources.enumerated() {
            guard let source else {
                report.missing.append(plan.units[unit])
                continue
            }
            let entry = source.entry
            let rendered = try render(unit: unit, from: source, formats: base.formats, plan: plan, documents: &documents)
            try writer.write(unit: unit, rendered)
            counts.add(contentsOf: entry.status)
            for (k, status) in entry.status.enumerated() where status == .failed { report.failed.append(entry.first + k) }
        }
        try writer.finish()
        var info = base
        info.commandLine = commandLine
        info.shard = nil
        info.mergedFrom = folders.map(\.path)
        info.embeddings = nil  // each shard keeps its own embeddings/; they are not merged
        info.state = report.missing.isEmpty ? .merged : .incomplete
        info.units = plan.units.count
        info.unitsDone = writer.done.count
        info.counts = counts
        info.seconds = infos.map(\.seconds).reduce(0, +)
        try info.write(to: out.appendingPathComponent("run.json"))
        report.info = info
        return report
    }

    /// Each folder's `run.json`; none of the folders may be `out`.
    private static func runInfos(of folders: [URL], out: URL) throws -> [RunInfo] {
        guard !folders.isEmpty else { throw PipelineError(.merge, "no folders to merge") }
        let target = out.standardizedFileURL.resolvingSymlinksInPath().path
        var infos: [RunInfo] = []
        for folder in folders {
            guard folder.standardizedFileURL.resolvingSymlinksInPath().path != target else {
                throw PipelineError(.merge, path: folder.path, "is also --out; merge into another folder")
            }
            let run = folder.appendingPathComponent("run.json")
            guard FileManager.default.fileExists(atPath: run.path) else {
                throw PipelineError(.merge, path: folder.path, "no run.json, not an output folder of telme annotate")
            }
            infos.append(try RunInfo.read(from: run))
        }
        return infos
    }

    /// The folders hold one run (their shards aside) over `corpus`.
    private static func checkOneRun(_ folders: [URL], infos: [RunInfo], corpus: Corpus) throws {
        let base = infos[0]
        for (folder, info) in zip(folders, infos).dropFirst() {
            var same = info
            same.shard = base.shard
            let differences = same.differences(from: base)
            guard differences.isEmpty else {
                throw PipelineError(.merge, path: folder.path, "another run than \(folders[0].path): "
                                                               + differences.joined(separator: "; "))
            }
        }
        let digest = RunPlan.digest(of: corpus)
        guard digest == base.corpus.digest else {
            throw PipelineError(.merge, path: corpus.file, "not the corpus the folders annotated (digest \(digest), "
                                                           + "theirs \(base.corpus.digest))")
        }
    }

    /// Which folder holds each unit of `plan` (nil: none); a unit in two folders is refused.
    private static func unitSources(_ folders: [URL], formats: [OutputFormat], plan: RunPlan,
                                    corpus: Corpus) throws -> [UnitSource?] {
        var sources: [UnitSource?] = Array(repeating: nil, count: plan.units.count)
        for folder in folders {
            let journal = try UnitJournal(directory: folder)
            let files = try formats.filter { $0 != .json }.map { ($0, try AppendFile(OutputWriter.url(folder, $0))) }
            for entry in try journal.read(repair: false) {
                try journal.check(entry, fits: plan)
                if let other = sources[entry.unit] {
                    throw PipelineError(.merge,
                        "unit \(entry.unit) (dialogue \(corpus.utterances[entry.first].dialogue)) is in both "
                            + "\(other.folder.path) and \(folder.path)")
                }
                sources[entry.unit] = UnitSource(folder: folder, entry: entry, files: files)
            }
        }
        return sources
    }

    /// A unit's records as its folder wrote them: the bytes `units.jsonl` points at, and for
    /// `json` alone, its records in the group's document (`documents` caches the documents read).
    private static func render(unit: Int, from source: UnitSource, formats: [OutputFormat], plan: RunPlan,
                               documents: inout [String: [String]]) throws -> RenderedUnit {
        let entry = source.entry
        var rendered = RenderedUnit(statuses: entry.status, jsonObjects: nil, csvRows: nil)
        for (format, file) in source.files {
            guard let range = entry.range(format), range.upperBound <= file.size else {
                throw PipelineError(.changedFolder, path: file.url.path,
                                    "does not hold unit \(unit) where units.jsonl says")
            }
            let bytes = try file.read(range)
            if format == .csv {
                rendered.csvRows = bytes
            } else {
                rendered.jsonObjects = bytes.split(separator: UInt8(ascii: "\n")).map { String(decoding: $0, as: UTF8.self) }
                guard rendered.jsonObjects?.count == entry.count else {
                    throw PipelineError(.changedFolder, path: file.url.path,
                        "bytes \(range) hold \(rendered.jsonObjects?.count ?? 0) records, "
                            + "units.jsonl says unit \(unit) has \(entry.count); the folder was changed "
                            + "(annotate it again)")
                }
            }
        }
        if rendered.jsonObjects == nil, formats.contains(.json) {
            let group = plan.group(ofUnit: unit)
            let url = OutputWriter.documentFolder(source.folder).appendingPathComponent(group.fileName)
            if documents[url.path] == nil { documents[url.path] = try OutputWriter.documentRecords(in: url) }
            let records = documents[url.path]!
            let offset = entry.first - group.range.lowerBound
            guard records.count >= offset + entry.count else {
                throw PipelineError(.changedFolder, path: url.path,
                                    "holds \(records.count) records, not unit \(unit)'s")
            }
            rendered.jsonObjects = Array(records[offset..<(offset + entry.count)])
        }
        return rendered
    }

    private struct UnitSource {
        var folder: URL
        var entry: UnitEntry
        var files: [(OutputFormat, AppendFile)]
    }
}
