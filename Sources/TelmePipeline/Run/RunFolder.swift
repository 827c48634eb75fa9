import Foundation
import TelmeFiles

/// Which folders telme writes into, and what it may replace there.
///
/// The rule: telme writes only into a folder that is empty (or does not exist yet) or that holds
/// a telme run (a `run.json` telme can read), and only its own files (`ownNames`, `json/*.json`).
/// It never replaces an input of the command, a symbolic link or anything that is not a regular
/// file. `--overwrite` is the only way into a folder that holds something else, and it says what
/// it removes; an input or a non-regular file is refused even then.
public enum RunFolder {
    /// The files a run writes directly in its folder.
    public static let ownNames = ["run.json", UnitJournal.fileName, "annotations.jsonl", "annotations.csv",
                                  "evaluation.json"]
    /// The folder of per-group documents.
    public static let documentsName = "json"

    /// What the folder holds, as far as writing into it goes.
    public enum State: Sendable {
        /// Absent or empty.
        case empty
        /// Holds a `run.json` telme can read.
        case run(RunInfo)
        /// Holds other files (listed, at most a few).
        case foreign([String])
    }

    /// Checks that telme may write its files into `folder`; `inputs` are the command's input
    /// files (corpus, model), which are never replaced. Returns the state of the folder.
    /// Throws a `PipelineError` naming the file and saying what to do.
    @discardableResult
    public static func check(_ folder: URL, inputs: [String], option: String = "--out") throws -> State {
        let path = folder.path
        var info = stat()
        if lstat(path, &info) != 0 { return .empty }
        guard info.st_mode & S_IFMT == S_IFDIR else {
            let what = info.st_mode & S_IFMT == S_IFLNK ? "is a symbolic link" : RegularFile.kindProblem(info.st_mode)
                .map { $0.replacingOccurrences(of: ", not a regular file", with: "") } ?? "is a file"
            throw PipelineError(.outputFolder, path: path,
                                "\(what), not a folder; give \(option) a new or empty folder")
        }
        let inputIdentities = Set(inputs.compactMap(identity))
        for name in ownNames + [documentsName] {
            let file = folder.appendingPathComponent(name).path
            guard lstat(file, &info) == 0 else { continue }
            let kind = info.st_mode & S_IFMT
            if name == documentsName {
                guard kind == S_IFDIR else {
                    throw PipelineError(.outputFolder, path: file,
                                        "not a folder (a link is not followed); remove it or choose another \(option)")
                }
                continue
            }
            guard kind == S_IFREG else {
                let what = kind == S_IFLNK ? "is a symbolic link" : RegularFile.kindProblem(info.st_mode) ?? ""
                throw PipelineError(.outputFolder, path: file,
                                    "\(what); telme replaces only its own regular files: remove it or choose "
                                    + "another \(option)")
            }
            if let id = identity(file), inputIdentities.contains(id) {
                throw PipelineError(.outputFolder, path: file,
                                    "is an input of this command; telme never replaces an input: "
                                    + "choose another \(option)")
            }
        }
        // A run under way holds the journal's lock (UnitJournal); it may not have written
        // run.json yet.
        let journal = folder.appendingPathComponent(UnitJournal.fileName).path
        let descriptor = open(journal, O_RDONLY | O_NONBLOCK | O_CLOEXEC)
        if descriptor >= 0 {
            defer { close(descriptor) }
            if flock(descriptor, LOCK_EX | LOCK_NB) != 0, errno == EWOULDBLOCK {
                throw PipelineError(.locked, path: journal, "another telme process is writing to this folder")
            }
        }
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        if entries.isEmpty { return .empty }
        let runURL = folder.appendingPathComponent("run.json")
        if FileManager.default.fileExists(atPath: runURL.path) {
            do {
                return .run(try RunInfo.read(from: runURL))
            } catch {
                // Named with why, among the folder's files.
                return .foreign(["run.json (\(error))"] + entries.filter { $0 != "run.json" }.sorted().prefix(4))
            }
        }
        return .foreign(entries.sorted().prefix(5).map { $0 })
    }

    /// The files of telme's own names that `folder` holds (what `--overwrite` replaces), as paths.
    public static func ownFiles(in folder: URL) -> [String] {
        var found: [String] = []
        for name in ownNames where FileManager.default.fileExists(atPath: folder.appendingPathComponent(name).path) {
            found.append(folder.appendingPathComponent(name).path)
        }
        let documents = folder.appendingPathComponent(documentsName)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: documents.path)) ?? []
        let count = names.filter { $0.hasSuffix(".json") || $0.hasSuffix(".json.tmp") }.count
        if count > 0 { found.append("\(documents.path)/*.json (\(count) document\(count == 1 ? "" : "s"))") }
        return found
    }

    /// Removes what `--overwrite` replaces besides the files a fresh start empties: `run.json`
    /// and `evaluation.json` (the scores of the records about to be replaced).
    public static func removeStale(in folder: URL) throws {
        for name in ["run.json", "evaluation.json"] {
            let url = folder.appendingPathComponent(name)
            if FileManager.default.fileExists(atPath: url.path) { try FileManager.default.removeItem(at: url) }
        }
    }

    /// Device and inode of the file `path` names (links followed), or nil when there is none.
    static func identity(_ path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }
}
