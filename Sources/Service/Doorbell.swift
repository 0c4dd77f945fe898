// Doorbell: lets a worker sleep until someone rings (or until a deadline, whichever comes first).
// (An AsyncStream cannot do this: cancelling a task that awaits the stream's next element finishes the
// stream for good, so after the first timed-out sleep every later sleep would return at once.)

import Synchronization

public final class Doorbell: Sendable {
    private struct State {
        var rung = false
        var sleeper: CheckedContinuation<Void, Never>?
        var sleeps: UInt64 = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes the current sleeper, or the next one if nobody sleeps now.
    public func ring() {
        let sleeper = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard let sleeper = s.sleeper else { s.rung = true; return nil }
            s.sleeper = nil
            return sleeper
        }
        sleeper?.resume()
    }

    /// Returns at a ring (at once if one came since the last sleep), or after `duration` when one is given.
    /// One sleeper at a time.
    public func sleep(for duration: Duration?) async {
        var timer: Task<Void, Never>?
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let sleep = state.withLock { s -> UInt64? in
                if s.rung { s.rung = false; return nil }
                precondition(s.sleeper == nil, "Doorbell: one sleeper at a time")
                s.sleeper = continuation
                s.sleeps += 1
                return s.sleeps
            }
            guard let sleep else { return continuation.resume() }
            guard let duration else { return }
            timer = Task { [self] in
                try? await Task.sleep(for: duration)
                wakeUp(sleep)
            }
        }
        timer?.cancel()
    }

    /// The timer of sleep number `sleep` fired: wakes that sleep if it still waits.
    private func wakeUp(_ sleep: UInt64) {
        let sleeper = state.withLock { s -> CheckedContinuation<Void, Never>? in
            guard s.sleeps == sleep, let sleeper = s.sleeper else { return nil }
            s.sleeper = nil
            return sleeper
        }
        sleeper?.resume()
    }
}
