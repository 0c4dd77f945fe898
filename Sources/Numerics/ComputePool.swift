// ComputePool: a fixed set of threads that run data-parallel loops for the kernels (ggml style).
// The caller takes part; idle workers spin briefly on an atomic generation counter, then sleep.

import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(i)` for `i` in `0..<count` on `threadCount` threads (the calling thread is one of them).
///
/// One job runs at a time: `parallelFor` is not reentrant and must be called from one thread at a time
/// (the engine or learner that owns the pool serialises its use). Workers spin for a short while after a
/// job so back-to-back kernels pay no wake-up cost, then block on a condition variable.
public final class ComputePool: @unchecked Sendable {
    public let threadCount: Int

    private let generation = Atomic<Int>(0)
    private let nextIndex = Atomic<Int>(0)
    private let unfinished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private var jobCount = 0
    private var job: ((Int) -> Void)?
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var threads: [pthread_t] = []
    /// Spin iterations before a worker sleeps (tens of microseconds).
    private let spinLimit = 20_000

    public init(threads: Int) {
        threadCount = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for _ in 1..<threadCount {
            var tid = pthread_t()
            let unmanaged = Unmanaged.passRetained(self)
            let rc = pthread_create(&tid, nil, { arg in
                let pool = Unmanaged<ComputePool>.fromOpaque(arg!).takeRetainedValue()
                pool.workerLoop()
                return nil
            }, unmanaged.toOpaque())
            precondition(rc == 0, "pthread_create failed (\(rc))")
            self.threads.append(tid)
        }
    }

    /// Stops the workers. The pool must not be used afterwards.
    public func shutdown() {
        guard !stopping.exchange(true, ordering: .sequentiallyConsistent) else { return }
        generation.add(1, ordering: .sequentiallyConsistent)
        pthread_mutex_lock(&mutex); pthread_cond_broadcast(&wake); pthread_mutex_unlock(&mutex)
        for t in threads { pthread_join(t, nil) }
        threads.removeAll()
    }

    deinit {
        pthread_cond_destroy(&wake)
        pthread_mutex_destroy(&mutex)
    }

    /// Calls `body(i)` once for every `i` in `0..<count`, spread over the pool; returns when all are done.
    public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
        if count <= 0 { return }
        if threadCount == 1 || count == 1 {
            for i in 0..<count { body(i) }
            return
        }
        withoutActuallyEscaping(body) { escapable in
            job = escapable
            jobCount = count
            nextIndex.store(0, ordering: .relaxed)
            unfinished.store(threadCount - 1, ordering: .relaxed)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex); pthread_cond_broadcast(&wake); pthread_mutex_unlock(&mutex)
            }
            runTasks(escapable, count)
            while unfinished.load(ordering: .acquiring) > 0 {}
            job = nil
        }
    }

    /// Splits `0..<total` into about `threadCount × 4` chunks whose starts are multiples of `align`, and
    /// calls `body(range)` for each in parallel.
    public func parallelRanges(_ total: Int, align: Int = 1, _ body: (Range<Int>) -> Void) {
        if total <= 0 { return }
        let pieces = threadCount == 1 ? 1 : threadCount * 4
        var chunk = (total + pieces - 1) / pieces
        chunk = (chunk + align - 1) / align * align
        let n = (total + chunk - 1) / chunk
        parallelFor(n) { i in body((i * chunk)..<min(total, (i + 1) * chunk)) }
    }

    @inline(__always) private func runTasks(_ body: (Int) -> Void, _ count: Int) {
        while true {
            let i = nextIndex.add(1, ordering: .relaxed).oldValue
            if i >= count { break }
            body(i)
        }
    }

    private func workerLoop() {
        // Generation 0 is the pool's state before any job: a worker that starts late must still take part
        // in jobs posted before it ran, so it must not read the counter here.
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < spinLimit { continue }
                pthread_mutex_lock(&mutex)
                sleepers.add(1, ordering: .sequentiallyConsistent)
                while generation.load(ordering: .sequentiallyConsistent) == seen {
                    pthread_cond_wait(&wake, &mutex)
                }
                sleepers.subtract(1, ordering: .sequentiallyConsistent)
                pthread_mutex_unlock(&mutex)
            }
            seen = generation.load(ordering: .acquiring)
            if stopping.load(ordering: .acquiring) { return }
            if let body = job { runTasks(body, jobCount) }
            unfinished.subtract(1, ordering: .releasing)
        }
    }
}
