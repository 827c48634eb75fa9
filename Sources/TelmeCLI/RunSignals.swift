import Dispatch
import Foundation
import TelmePipeline

/// SIGINT and SIGTERM during `telme annotate`: the first one lets the current unit finish and
/// be written, then the run stops (exit status 128 + the signal: 130, 143); a second one ends
/// the process at once (nothing committed is lost either way: see `OutputWriter`).
final class StopSignals: @unchecked Sendable {
    private let lock = NSLock()
    private var caught: Int32?
    private var sources: [DispatchSourceSignal] = []
    private var forcedStop: (() -> Void)?

    /// Called on the second signal, just before the process ends (what is committed is kept).
    func onForcedStop(_ action: @escaping () -> Void) { lock.withLock { forcedStop = action } }

    /// Starts listening for SIGINT and SIGTERM.
    static func install() -> StopSignals {
        let stop = StopSignals()
        for number in [SIGINT, SIGTERM] {
            signal(number, SIG_IGN)  // delivered to the dispatch source instead
            let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
            source.setEventHandler { [stop] in stop.caught(number) }
            source.resume()
            stop.sources.append(source)
        }
        return stop
    }

    private func caught(_ number: Int32) {
        let first = lock.withLock {
            defer { caught = caught ?? number }
            return caught == nil
        }
        guard first else {
            // A unit that does not finish (a stuck read, a huge dialogue) can still be stopped:
            // run.json is marked interrupted first, so the folder says what happened.
            lock.withLock { forcedStop }?()
            _exit(128 + number)
        }
        FileHandle.standardError.write(Data(
            "\ntelme: \(Self.name(number)): finishing the current unit, then stopping (again to stop at once)\n".utf8))
    }

    /// The first signal caught, if any.
    var received: Int32? { lock.withLock { caught } }

    /// Stops listening; the signals get their default action back.
    func uninstall() {
        for source in sources { source.cancel() }
        signal(SIGINT, SIG_DFL)
        signal(SIGTERM, SIG_DFL)
    }

    static func name(_ number: Int32) -> String {
        switch number {
        case SIGINT: "SIGINT"
        case SIGTERM: "SIGTERM"
        case SIGKILL: "SIGKILL"
        default: "signal \(number)"
        }
    }
}

/// The crash test hook: `TELME_TEST_SIGNAL=N:POINT:SIGNAL` makes `telme annotate` send itself
/// SIGNAL (`KILL`, `TERM` or `INT`) at POINT of the Nth unit it writes (1-based, counted by
/// this process): `before` (records computed, nothing written), `partial` (half of the unit's
/// first file written), `written` (all written, not committed) or `committed`. Tests use it to
/// stop a run at exact places; unset, it does nothing.
struct SignalHook {
    var unit: Int
    var point: String
    var signal: Int32

    static let variable = "TELME_TEST_SIGNAL"

    init?(_ env: [String: String]) throws {
        guard let text = env[Self.variable], !text.isEmpty else { return nil }
        let parts = text.split(separator: ":").map(String.init)
        let signals = ["KILL": SIGKILL, "TERM": SIGTERM, "INT": SIGINT]
        guard parts.count == 3, let unit = Int(parts[0]), unit >= 1,
              ["before", "partial", "written", "committed"].contains(parts[1]), let number = signals[parts[2]] else {
            throw PipelineError(.environment,
                                "\(Self.variable)=\(text): expected N:before|partial|written|committed:KILL|TERM|INT")
        }
        self.unit = unit
        point = parts[1]
        signal = number
    }

    /// Sends the signal when `unit` and `point` are the hook's. A SIGINT or SIGTERM is handled
    /// on another thread; `delivered` tells when it was, so that the hook acts at its point
    /// exactly (waiting at most 5 s).
    func reached(unit: Int, point: String, delivered: () -> Bool) {
        guard unit == self.unit, point == self.point else { return }
        kill(getpid(), signal)
        for _ in 0..<5000 where !delivered() { usleep(1000) }
    }
}
