// OwnThread: long blocking work — encoding or decoding a version's files, building or merging an ensemble,
// generating the gate's replies — runs on a thread of its own, so that it does not hold one of the async
// executor's threads (there are as many as cores, and the HTTP handlers need them while a phase starts).
// These threads, and the learner's, run at a lower priority (nice 10): their work outside the compute lease
// (decompressing a version's ensemble, allocating a phase's arena, encoding files) yields the cores to
// serving, which would otherwise share them with it — a chat's latency rose to 1.7× its idle maximum at a
// later phase's start. Under the lease it changes nothing: serving waits for the lease, not for the cores.

import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The result of `body`, computed on a new thread named `name`.
func onOwnThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            lowerPriority()
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }
}

/// Lowers the calling thread's priority to nice 10. On Linux the nice value belongs to a thread, and
/// `setpriority(PRIO_PROCESS, 0, …)` sets the calling thread's; elsewhere this is a no-op.
func lowerPriority() {
    #if os(Linux)
    _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, 10)
    #endif
}
