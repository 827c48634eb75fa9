import Foundation
import TelmePipeline

/// The line that ends every run: what was annotated, how it went, how long it took and where
/// the outputs are.
///
/// `telme: done: 42 utterances: 40 ok, 2 degraded, 0 failed, 0 skipped; 0:01:23; output in annotations/`,
/// with `(29 done by an earlier run)` after a resume and `audio and video skipped (--text-only)`.
/// `skipped` counts the corpus's utterances that this folder does not hold (other shards', or
/// those not yet done when the run is stopped), so that the four counts add up to the corpus.
struct RunSummary {
    var out: String
    var corpusUtterances: Int
    var shard: Shard?
    var doneBefore: Int
    var textOnly: Bool
    var started: Date

    func line(state: String, counts: RunCounts, utterances: Int) -> String {
        var parts = ["\(state): \(counts.total) of \(corpusUtterances) utterances: \(counts.ok) ok, "
                     + "\(counts.degraded) degraded, \(counts.failed) failed, "
                     + "\(corpusUtterances - counts.total) skipped"
                     + (shard.map { " (shard \($0))" } ?? "")]
        if doneBefore > 0 { parts.append("\(doneBefore) done by an earlier run") }
        if textOnly { parts.append("audio and video skipped (--text-only)") }
        parts.append(clock(Date().timeIntervalSince(started)))
        parts.append("output in \(out)")
        return parts.joined(separator: "; ")
    }
}

/// Seconds as `h:mm:ss`.
func clock(_ seconds: Double) -> String {
    guard seconds.isFinite else { return "?:??:??" }
    let whole = Int(max(0, seconds).rounded())
    return String(format: "%d:%02d:%02d", whole / 3600, whole / 60 % 60, whole % 60)
}

/// Progress on stderr: utterances done of the folder's whole plan (a resumed run starts at what
/// the earlier runs did), elapsed time and an ETA from this process's rate. On a terminal, one
/// line redrawn in place at most twice a second; otherwise (a Slurm log, a file) a plain line
/// every `every` seconds and one at the end, or none when `every` is 0.
final class ProgressMeter {
    let total: Int
    let alreadyDone: Int
    let terminal: Bool
    let every: Double
    let start = Date()
    var last: Date
    var latest: Double
    var drawn = false

    init(total: Int, alreadyDone: Int, terminal: Bool, every: Double) {
        self.total = total
        self.alreadyDone = alreadyDone
        self.terminal = terminal
        self.every = every
        latest = Double(alreadyDone)
        last = start
    }

    /// `done`: utterances done so far, with the fraction of the one under way.
    func update(_ done: Double) {
        latest = done
        let now = Date()
        if terminal {
            guard now.timeIntervalSince(last) >= 0.5 else { return }
            write("\r" + text(now) + "   ")
        } else {
            guard every > 0, now.timeIntervalSince(last) >= every else { return }
            write("telme: " + text(now) + "\n")
        }
        last = now
    }

    /// `29/42 utterances (69%), elapsed 0:01:05, ETA 0:00:29`.
    func text(_ now: Date) -> String {
        let elapsed = now.timeIntervalSince(start)
        let doneHere = latest - Double(alreadyDone)
        // This process's rate; unknown before its first step (nothing is left once all is done).
        let eta = latest >= Double(total) ? clock(0)
            : doneHere > 0 ? clock((Double(total) - latest) * elapsed / doneHere) : "?:??:??"
        let percent = total > 0 ? Int((latest / Double(total) * 100).rounded(.down)) : 100
        return "\(Int(latest.rounded(.down)))/\(total) utterances (\(percent)%), elapsed \(clock(elapsed)), ETA \(eta)"
    }

    func finish() {
        if terminal {
            if drawn || latest > Double(alreadyDone) { write("\r" + text(Date()) + "\n") }
        } else if every > 0 {
            write("telme: " + text(Date()) + "\n")
        }
    }

    private func write(_ line: String) {
        drawn = true
        FileHandle.standardError.write(Data(line.utf8))
    }
}

/// A note on stderr (what the run is doing, not a problem).
func note(_ message: String) {
    FileHandle.standardError.write(Data("telme: \(Messages.escaped(message))\n".utf8))
}

/// A warning line on stderr.
func warn(_ message: String) {
    FileHandle.standardError.write(Data("telme: warning: \(Messages.escaped(message))\n".utf8))
}
