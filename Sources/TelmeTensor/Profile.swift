import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where an encoder's time goes: seconds and calls per kind of operation, collected only while
/// enabled (`telme bench --breakdown`), and only for operations called on the thread that
/// started it (tests running beside it are not counted). Disabled, each operation pays one
/// atomic load.
///
/// The measured operations never nest, so their times add up to at most the wall time.
public enum Profile {
    private static let on = Atomic<Bool>(false)
    private static let totals = Mutex<(owner: pthread_t?, entries: [String: Entry])>((nil, [:]))

    /// Seconds and calls of one kind of operation.
    public struct Entry: Sendable, Equatable {
        public var seconds: Double = 0
        public var calls: Int = 0
    }

    /// Starts collecting, from zero, the operations this thread calls.
    public static func start() {
        totals.withLock { $0 = (pthread_self(), [:]) }
        on.store(true, ordering: .relaxed)
    }

    /// Stops collecting and returns what was collected, by operation name.
    public static func stop() -> [String: Entry] {
        on.store(false, ordering: .relaxed)
        return totals.withLock { state in
            state.owner = nil
            return state.entries
        }
    }

    /// Runs `body`, adding its wall time to `name` while collecting.
    @inline(__always)
    static func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard on.load(ordering: .relaxed) else { return try body() }
        let begin = now()
        defer {
            let elapsed = now() - begin
            totals.withLock { state in
                guard let owner = state.owner, pthread_equal(owner, pthread_self()) != 0 else { return }
                state.entries[name, default: Entry()].seconds += elapsed
                state.entries[name, default: Entry()].calls += 1
            }
        }
        return try body()
    }

    private static func now() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
    }
}
