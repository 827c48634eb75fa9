import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// The tool's own parallel loops, run on the threads of the backend's library: one pool for the
/// matrix products and the elementwise work between them, so the cores are never
/// oversubscribed. With oneDNN, that is GNU OpenMP's team (`GOMP_parallel`); with OpenBLAS,
/// OpenBLAS's own workers:
///
/// OpenBLAS's pthread build keeps its worker threads spinning for a while after each product
/// (`OPENBLAS_THREAD_TIMEOUT`, about 0.1 s by default). Work handed to threads of our own in
/// that window competed with the spinning workers for the same cores (GELU took twice as
/// long). So the parts are handed to OpenBLAS's workers themselves, through the library's
/// exported `gotoblas_pthread` (its pthread-compatible job runner: part 0 on the calling
/// thread, the others on idle workers). Where the linked OpenBLAS has no such entry point
/// (OpenMP or serial builds), libdispatch runs the parts.
///
/// Bodies must not call `Gemm.multiply`: a product started on one of OpenBLAS's own workers
/// would wait for that same worker (`Gemm.independently` is the way to run products in parts).
/// A `forEach` inside a part runs inline, on that part's thread.
enum Parallel {
    /// Below this many floats of work a job is not split (handing it over would cost more).
    static let minimumFloats = 1 << 15

    /// Calls `body` on disjoint consecutive ranges covering `0..<count`, concurrently when the
    /// job (`count * floatsPerItem` floats) is large enough and OpenBLAS has more than one thread.
    static func forEach(count: Int, floatsPerItem: Int, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let threads = min(Gemm.threads, count)
        guard threads > 1, count * max(floatsPerItem, 1) >= minimumFloats, pthread_getspecific(insidePart) == nil else {
            body(0..<count)
            return
        }
        // `body` only runs inside this call, on disjoint ranges.
        withoutActuallyEscaping(body) { body in
            nonisolated(unsafe) let work = body
            run(parts: threads) { @Sendable part in
                let start = count * part / threads, end = count * (part + 1) / threads
                if start < end { work(start..<end) }
            }
        }
    }

    /// Set (non-nil) on a thread while it runs a part.
    private static let insidePart: pthread_key_t = {
        var key = pthread_key_t()
        precondition(pthread_key_create(&key, nil) == 0, "pthread_key_create failed")
        return key
    }()

    /// Runs `part(0)` ... `part(parts - 1)` concurrently and returns when all are done.
    private static func run(parts: Int, _ body: @escaping @Sendable (Int) -> Void) {
        let part: @Sendable (Int) -> Void = { index in
            pthread_setspecific(insidePart, UnsafeRawPointer(bitPattern: 1))
            defer { pthread_setspecific(insidePart, nil) }
            body(index)
        }
        if Compute.backend == .onednn {
            OneDNN.Threads.run(threads: parts) { thread, count in
                // OpenMP may give fewer threads than asked: each runs every count-th part.
                for index in Swift.stride(from: thread, to: parts, by: count) { part(index) }
            }
            return
        }
        guard let pool = OpenBLASPool.run else {
            DispatchQueue.concurrentPerform(iterations: parts, execute: part)
            return
        }
        let job = Job(part)
        withExtendedLifetime(job) {
            var arguments = (0..<parts).map { Argument(job: Unmanaged.passUnretained(job).toOpaque(), part: $0) }
            arguments.withUnsafeMutableBytes { raw in
                _ = pool(Int32(parts), OpenBLASPool.trampoline, raw.baseAddress, Int32(MemoryLayout<Argument>.stride))
            }
        }
    }

    private final class Job {
        let body: @Sendable (Int) -> Void
        init(_ body: @escaping @Sendable (Int) -> Void) { self.body = body }
    }

    /// What OpenBLAS hands to one part: the job and the part's index.
    private struct Argument {
        var job: UnsafeMutableRawPointer
        var part: Int
    }

    private enum OpenBLASPool {
        /// `int gotoblas_pthread(int numthreads, void *function, void *args, int stride)`:
        /// calls `function(args + i * stride)` for each i on OpenBLAS's threads.
        typealias Run = @convention(c) (Int32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?, Int32) -> Int32

        static let run: Run? = {
            guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "gotoblas_pthread") else { return nil }
            return unsafeBitCast(symbol, to: Run.self)
        }()

        nonisolated(unsafe) static let trampoline: UnsafeMutableRawPointer = {
            let function: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
                let argument = raw!.load(as: Argument.self)
                Unmanaged<Job>.fromOpaque(argument.job).takeUnretainedValue().body(argument.part)
            }
            return unsafeBitCast(function, to: UnsafeMutableRawPointer.self)
        }()
    }
}
