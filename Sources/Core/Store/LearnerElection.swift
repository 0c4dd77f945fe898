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

/// The in-memory twin: processes sharing one `InMemoryLearnerElection` take turns; `resign` is a learner's death.
public actor InMemoryLearnerElection {
    private var holder: Int?

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

        /// Ends this process's turn, as its death would.
        public func resign() async { await election.release(id) }
    }

    private func claim(_ id: SharedID) -> Bool {
        if holder == nil { holder = id.value }
        return holder == id.value
    }

    private func holds(_ id: SharedID) -> Bool { holder == id.value }

    private func release(_ id: SharedID) { if holder == id.value { holder = nil } }
}

/// A process identity for the in-memory election.
final class SharedID: Sendable {
    private static let counter = Mutex<Int>(0)
    let value: Int
    init() { value = Self.counter.withLock { $0 += 1; return $0 } }
}
