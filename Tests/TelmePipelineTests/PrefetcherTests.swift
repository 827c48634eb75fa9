import Foundation
import Testing
@testable import TelmePipeline

/// The background preparation of the next units' media: order, bound and stopping.
@Suite struct PrefetcherTests {
    /// Records which items the background thread has started, under a lock.
    final class Log: @unchecked Sendable {
        private let lock = NSLock()
        private var started: [Int] = []
        func add(_ item: Int) { lock.lock(); started.append(item); lock.unlock() }
        var items: [Int] { lock.lock(); defer { lock.unlock() }; return started }

        /// Waits (up to 20 s, for a loaded machine) until `count` items have started.
        func wait(for count: Int) {
            let deadline = Date().addingTimeInterval(20)
            while items.count < count, Date() < deadline { Thread.sleep(forTimeInterval: 0.01) }
        }
    }

    @Test func handsOutEveryResultInOrder() {
        let prefetcher = Prefetcher(Array(0..<50), depth: 3) { $0 * $0 }
        var results: [Int] = []
        while let next = prefetcher.next() { results.append(next) }
        #expect(results == (0..<50).map { $0 * $0 })
        #expect(prefetcher.next() == nil)
    }

    @Test func staysAtMostDepthAheadOfTheConsumer() throws {
        let log = Log()
        let prefetcher = Prefetcher(Array(0..<10), depth: 2) { item in log.add(item); return item }
        log.wait(for: 2)
        Thread.sleep(forTimeInterval: 0.2)
        // Two results wait and the third is blocked before it starts.
        #expect(log.items == [0, 1])
        #expect(prefetcher.next() == 0)
        log.wait(for: 3)
        Thread.sleep(forTimeInterval: 0.2)
        #expect(log.items == [0, 1, 2])
        prefetcher.stop()
    }

    @Test func stopEndsTheThreadAfterTheItemInProgress() {
        let log = Log()
        let prefetcher = Prefetcher(Array(0..<100), depth: 1) { item in
            log.add(item)
            Thread.sleep(forTimeInterval: 0.05)
            return item
        }
        #expect(prefetcher.next() == 0)
        prefetcher.stop()
        let seen = log.items.count
        Thread.sleep(forTimeInterval: 0.2)
        #expect(log.items.count == seen)
        #expect(seen <= 3)
        #expect(prefetcher.next() == nil)
    }

    @Test func anEmptyListEndsAtOnce() {
        let prefetcher = Prefetcher([Int](), depth: 2) { $0 }
        #expect(prefetcher.next() == nil)
    }
}
