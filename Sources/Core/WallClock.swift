// WallClock: when things happen, as the store records them (requests, feedback, versions, phases). The
// system's clock in production; tests set the time (`ManualWallClock`). Durations (latency, a phase's ETA)
// are measured with the monotonic clock instead.

import Foundation

public protocol WallClock: Sendable {
    func now() -> Date
}

/// The system's time.
public struct SystemWallClock: WallClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock that says what it is told: its time moves only by `set` or `advance`.
public final class ManualWallClock: WallClock, @unchecked Sendable {
    private let lock = NSLock()
    private var date: Date

    public init(_ date: Date) { self.date = date }

    public func now() -> Date { lock.withLock { date } }
    public func set(_ date: Date) { lock.withLock { self.date = date } }
    public func advance(by seconds: TimeInterval) { lock.withLock { date += seconds } }
}
