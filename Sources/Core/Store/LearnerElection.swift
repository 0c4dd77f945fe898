// LearnerElection: the port that keeps one learner per store. PostgreSQL elects with a session advisory lock;
// a process alone on its store (SQLite) needs no election. InMemoryLearnerElection is the twin.

import Synchronization

/// One process's part in a shared store: it runs the learner only while no other process does. PostgreSQL elects
/// with an advisory lock; a process alone on its store (SQLite, the in-memory store) is always elected.
public protocol LearnerElection: Sendable {
    /// Returns once this process is the learner, waiting as a standby while another process is; `waiting` is
    /// called once when it must wait.
    func becomeLearner(waiting: @escaping @Sendable () -> Void) async throws
    /// Whether this process is still the learner (false once its lock's session has ended: it must stop and
    /// become the learner again before it runs another phase).
    func isStillLearner() async -> Bool
}

/// The in-memory twin: processes sharing one `InMemoryLearnerElection` take turns; `resign` is the end of a
/// learner's session.
public actor InMemoryLearnerElection {
    private var holder: Int?
    /// Candidates that may not claim again before the given instant (a process reconnecting after its session ended).
    private var barredUntil: [Int: ContinuousClock.Instant] = [:]

    public init() {}

    /// A process's view of the election.
    public nonisolated func candidate() -> Candidate { Candidate(election: self) }

    public struct Candidate: LearnerElection {
        let election: InMemoryLearnerElection
        private let id = SharedID()

        public func becomeLearner(waiting: @escaping @Sendable () -> Void) async throws {
            var told = false
            while !(await election.claim(id)) {
                if !told { waiting(); told = true }
                try await Task.sleep(for: .milliseconds(10))
            }
        }

        public func isStillLearner() async -> Bool { await election.holds(id) }

        /// Ends this process's turn, as the end of its database session would; it may claim again only after
        /// `reconnecting` (as long as a real process takes to reconnect), so that a waiting standby takes over.
        public func resign(reconnecting: Duration = .seconds(2)) async { await election.release(id, until: .now + reconnecting) }
    }

    private func claim(_ id: SharedID) -> Bool {
        if let until = barredUntil[id.value], ContinuousClock.now < until { return false }
        if holder == nil { holder = id.value }
        return holder == id.value
    }

    private func holds(_ id: SharedID) -> Bool { holder == id.value }

    private func release(_ id: SharedID, until: ContinuousClock.Instant) {
        if holder == id.value { holder = nil }
        barredUntil[id.value] = until
    }
}

/// A process identity for the in-memory election.
final class SharedID: Sendable {
    private static let counter = Mutex<Int>(0)
    let value: Int
    init() { value = Self.counter.withLock { $0 += 1; return $0 } }
}
