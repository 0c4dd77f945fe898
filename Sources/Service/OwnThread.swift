// OwnThread: long blocking work — encoding or decoding a version's files, building or merging an ensemble,
// generating the gate's replies — runs on a thread of its own, so that it does not hold one of the async
// executor's threads (there are as many as cores, and the HTTP handlers need them while a phase starts).

import Foundation

/// The result of `body`, computed on a new thread named `name`.
func onOwnThread<T: Sendable>(_ name: String, _ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread {
            do { continuation.resume(returning: try body()) } catch { continuation.resume(throwing: error) }
        }
        thread.name = name
        thread.stackSize = 8 << 20
        thread.start()
    }
}
