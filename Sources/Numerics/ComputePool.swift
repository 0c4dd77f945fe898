// ComputePool: a fixed set of threads that run data-parallel loops for the kernels (ggml style).
// The caller takes part; workers claim tasks with a compare-and-swap, so nobody waits for a sleeping thread.

import CKernels
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Runs `body(i)` for `i` in `0..<count` on up to `threadCount` threads (the caller is one of them).
///
/// One job runs at a time: `parallelFor` is not reentrant and must be called from one thread at a time
/// (the engine or learner that owns the pool serialises its use). Tasks are claimed from a ticket that
/// holds the job's generation, task count and next index, so a worker that wakes late cannot take a task
/// of a finished job, and the caller only waits for tasks that are actually running — a descheduled or
/// sleeping worker never holds up a job (the machine may have more runnable threads than cores). Idle
/// workers spin briefly (PAUSE), then block on a condition variable.
public final class ComputePool: @unchecked Sendable {
    public let threadCount: Int

    /// generation (24 bits) | task count (20 bits) | next index (20 bits)
    private let ticket = Atomic<UInt64>(0)
    private let generation = Atomic<Int>(0)
    private let finished = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let stopping = Atomic<Bool>(false)
    private let job = Atomic<UInt>(0)
    private var mutex = pthread_mutex_t()
    private var wake = pthread_cond_t()
    private var threads: [pthread_t] = []

    private static let indexBits: UInt64 = 20
    // A PAUSE takes ≈ 45 ns on this project's machine (AMD EPYC under KVM), so the caller spins ≈ 90 µs before
    // it starts yielding, and an idle worker ≈ 0.2 ms before it sleeps: a decode step posts its jobs a few
    // microseconds apart, and a sleeping worker has to be woken through the kernel.
    private static let waitSpins = 2_000
    private static let idleSpins = 5_000
    /// Most tasks one parallelFor call hands out at a time (larger counts run in rounds).
    static let maxTasks = (1 << 20) - 1

    public init(threads: Int) {
        threadCount = max(1, threads)
        pthread_mutex_init(&mutex, nil)
        pthread_cond_init(&wake, nil)
        for _ in 1..<threadCount {
            var tid = pthread_t()
            let rc = pthread_create(&tid, nil, { arg in
                Unmanaged<ComputePool>.fromOpaque(arg!).takeRetainedValue().workerLoop()
                return nil
            }, Unmanaged.passRetained(self).toOpaque())
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
        var start = 0
        while start < count {
            let n = min(Self.maxTasks, count - start)
            let offset = start
            withoutActuallyEscaping({ (i: Int) in body(offset + i) }) { escapable in runJob(escapable, count: n) }
            start += n
        }
    }

    /// Splits `0..<total` into about `threadCount × piecesPerThread` chunks whose starts are multiples of
    /// `align`, and calls `body(range)` for each in parallel.
    public func parallelRanges(_ total: Int, align: Int = 1, piecesPerThread perThread: Int = 4, _ body: (Range<Int>) -> Void) {
        if total <= 0 { return }
        let chunk = chunkSize(total, align: align, piecesPerThread: perThread)
        let n = (total + chunk - 1) / chunk
        parallelFor(n) { i in body((i * chunk)..<min(total, (i + 1) * chunk)) }
    }

    /// The chunk length `parallelRanges` uses: about `threadCount × piecesPerThread` chunks of `total`,
    /// rounded up to a multiple of `align`.
    public func chunkSize(_ total: Int, align: Int = 1, piecesPerThread perThread: Int) -> Int {
        let pieces = threadCount == 1 ? 1 : threadCount * perThread
        let chunk = max(1, (total + pieces - 1) / pieces)
        return (chunk + align - 1) / align * align
    }

    // MARK: - Jobs

    private struct Job {
        var body: (Int) -> Void
    }

    private func runJob(_ body: @escaping (Int) -> Void, count: Int) {
        var box = Job(body: body)
        withUnsafeMutablePointer(to: &box) { boxPointer in
            let gen = UInt64(generation.load(ordering: .relaxed) + 1) & 0xFF_FFFF
            finished.store(0, ordering: .relaxed)
            job.store(UInt(bitPattern: boxPointer), ordering: .releasing)
            ticket.store(gen << (2 * Self.indexBits) | UInt64(count) << Self.indexBits, ordering: .releasing)
            generation.add(1, ordering: .sequentiallyConsistent)
            if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
                pthread_mutex_lock(&mutex); pthread_cond_broadcast(&wake); pthread_mutex_unlock(&mutex)
            }
            runTasks(generation: gen)
            // The tasks still out are running on other threads: spin, and yield only if one of them was
            // descheduled (more runnable threads than cores) and has not finished after a while.
            var spins = 0
            while finished.load(ordering: .acquiring) < count {
                spins += 1
                if spins < Self.waitSpins { proxima_cpu_relax() } else { sched_yield() }
            }
        }
    }

    /// Claims and runs tasks of job `gen` until none is left; each claim is a compare-and-swap on the ticket.
    @inline(__always) private func runTasks(generation gen: UInt64) {
        let indexMask: UInt64 = (1 << Self.indexBits) - 1
        while true {
            let t = ticket.load(ordering: .acquiring)
            guard t >> (2 * Self.indexBits) == gen else { return }
            let index = t & indexMask, count = (t >> Self.indexBits) & indexMask
            guard index < count else { return }
            guard ticket.compareExchange(expected: t, desired: t + 1, ordering: .acquiringAndReleasing).exchanged else { continue }
            let box = UnsafeMutablePointer<Job>(bitPattern: job.load(ordering: .acquiring))!
            box.pointee.body(Int(index))
            finished.add(1, ordering: .releasing)
        }
    }

    private func workerLoop() {
        // Generation 0 is the pool's state before any job: a worker that starts late still takes part in
        // jobs posted before it ran.
        var seen = 0
        while true {
            var spins = 0
            while generation.load(ordering: .acquiring) == seen {
                spins += 1
                if spins < Self.idleSpins {
                    proxima_cpu_relax()
                    continue
                }
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
            runTasks(generation: UInt64(seen) & 0xFF_FFFF)
        }
    }
}
