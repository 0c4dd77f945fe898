// PostgresProximaStore+LearnerLock: one learner per database. A process that runs phases first takes a
// PostgreSQL session advisory lock on a connection of its own, held while it lives: a second learner on the
// same database waits as a standby, and the lock goes with the holder's session (a crash, a killed process),
// so the standby takes over.

import Foundation
import Logging
import PostgresNIO
import ProximaCore

// MARK: - The learner's lock

extension PostgresProximaStore {
    /// The key of the learner's advisory lock ("learner" in ASCII).
    static let learnerLockKey: Int64 = 0x6c_65_61_72_6e_65_72

    /// Takes the learner's lock for this process unless another session holds it (false then).
    public func claimLearnerLock() async throws -> Bool {
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 2, logger: logger)
        } catch {
            throw StoreError.database(message: "cannot connect to \(url) for the learner's lock: \(Self.reason(error))")
        }
        do {
            let rows = try await connection.query("SELECT pg_try_advisory_lock(\(Self.learnerLockKey)) AS held", logger: logger).collect()
            guard let row = rows.first, try PostgresRandomAccessRow(row).value("held", in: "pg_locks") as Bool else {
                try? await connection.close()
                return false
            }
            await learnerLock.hold(connection)
            return true
        } catch {
            try? await connection.close()
            throw StoreError.wrapping(error, doing: "taking the learner's lock")
        }
    }
}

extension PostgresProximaStore: LearnerElection {
    /// Waits until this process holds the learner's lock, trying every `poll`; `waiting` is called once if it
    /// must wait (another process holds it).
    public func waitForLearnerLock(poll: Duration = .seconds(2), waiting: () -> Void = {}) async throws {
        var told = false
        while try await !claimLearnerLock() {
            if !told { waiting(); told = true }
            try await Task.sleep(for: poll)
        }
    }

    public func becomeLearner(waiting: @escaping @Sendable () -> Void) async throws {
        try await waitForLearnerLock(waiting: waiting)
    }

    /// Whether the lock's connection still answers: a session advisory lock lives exactly as long as its session,
    /// so after a PostgreSQL restart or a dropped connection another process may have become the learner.
    public func isStillLearner() async -> Bool {
        await learnerLock.isAlive(logger: logger)
    }
}

/// The connection that holds the learner's lock (closing it releases the lock).
actor LearnerLockHolder {
    private var connection: PostgresConnection?

    func hold(_ connection: PostgresConnection) { self.connection = connection }

    /// Whether the holding session still answers (it is released when it does not).
    /// A query on a connection the server ended can wait forever, so the answer must come within `timeout`.
    func isAlive(logger: Logger, timeout: Duration = .seconds(3)) async -> Bool {
        guard let connection else { return false }
        let alive = (try? await PostgresProximaStore.withDeadline(timeout, doing: "checking the learner's lock") {
            _ = try await connection.query("SELECT 1", logger: logger).collect()
            return true
        }) ?? false
        if !alive { await release() }
        return alive
    }

    /// Closes the holding connection without waiting for the server (closing a connection it already ended
    /// must not hang shutdown).
    func release() async {
        connection?.close().whenComplete { _ in }
        connection = nil
    }
}
