import Foundation

/// Runs `work` for a sequence of items on one background thread, at most `depth` items ahead
/// of the consumer, so that decoding the next dialogues' media overlaps inference on the
/// current one.
///
/// The items are prepared one after another, in order, on that single thread: whatever
/// `work` touches (a `MediaLoader` and its open files) is used by one thread only, exactly as
/// in a sequential run, so the results are the same. `next()` hands them out in order; `stop()`
/// (also on deinit) ends the thread after the item in progress and waits for it.
final class Prefetcher<Item, Result> {
    private let queue: Queue

    /// Starts preparing `items` in order with `work`. `work` runs on the background thread
    /// only; the caller must not use what it captures until `stop()` has returned.
    init(_ items: [Item], depth: Int, work: @escaping (Item) -> Result) {
        let queue = Queue(depth: depth)
        self.queue = queue
        nonisolated(unsafe) let items = items
        nonisolated(unsafe) let work = work
        let thread = Thread {
            for item in items {
                guard queue.waitForRoom() else { break }
                queue.put(work(item))
            }
            queue.finish()
        }
        thread.name = "telme-prefetch"
        // Below inference: decoding fills idle time rather than competing with the products.
        thread.qualityOfService = .utility
        thread.start()
    }

    deinit { queue.stop() }

    /// The next item's result, waiting while it is prepared; nil after the last item or `stop()`.
    func next() -> Result? { queue.take() }

    /// Ends the thread after the item in progress and waits for it.
    func stop() { queue.stop() }

    /// The bounded hand-over between the thread and the consumer.
    private final class Queue: @unchecked Sendable {
        private let condition = NSCondition()
        private let depth: Int
        // Guarded by `condition`.
        private var ready: [Result] = []
        private var stopped = false
        private var finished = false

        init(depth: Int) { self.depth = max(1, depth) }

        /// Waits until fewer than `depth` results wait; false once stopped.
        func waitForRoom() -> Bool {
            condition.lock()
            defer { condition.unlock() }
            while ready.count >= depth, !stopped { condition.wait() }
            return !stopped
        }

        func put(_ result: Result) {
            condition.lock()
            ready.append(result)
            condition.broadcast()
            condition.unlock()
        }

        func finish() {
            condition.lock()
            finished = true
            condition.broadcast()
            condition.unlock()
        }

        func take() -> Result? {
            condition.lock()
            defer { condition.unlock() }
            while ready.isEmpty, !finished, !stopped { condition.wait() }
            guard !stopped, !ready.isEmpty else { return nil }
            condition.broadcast()
            return ready.removeFirst()
        }

        func stop() {
            condition.lock()
            stopped = true
            condition.broadcast()
            while !finished { condition.wait() }
            condition.unlock()
        }
    }
}
