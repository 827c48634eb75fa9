import Dispatch

/// The tool's own parallel loops, sharing the cores with OpenBLAS.
///
/// Elementwise work runs between matrix products, when OpenBLAS's threads are idle, on as many
/// threads as OpenBLAS is set to use (`Gemm.threads`), so the two never oversubscribe the
/// cores. Small jobs stay on the calling thread.
enum Parallel {
    /// Below this many floats of work a job is not split (thread wake-up would cost more).
    static let minimumFloats = 1 << 15

    /// Calls `body` on disjoint consecutive ranges covering `0..<count`, concurrently when the
    /// job (`count * floatsPerItem` floats) is large enough and OpenBLAS has more than one thread.
    static func forEach(count: Int, floatsPerItem: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let threads = min(Gemm.threads, count)
        guard threads > 1, count * max(floatsPerItem, 1) >= minimumFloats else {
            body(0..<count)
            return
        }
        // `body` only runs inside this call, on disjoint ranges.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            DispatchQueue.concurrentPerform(iterations: threads) { part in
                let start = count * part / threads, end = count * (part + 1) / threads
                if start < end { work(start..<end) }
            }
        }
    }
}
