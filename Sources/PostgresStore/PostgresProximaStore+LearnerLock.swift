// PostgresProximaStore+LearnerLock: one learner per database. A process that runs phases first takes a
// PostgreSQL session advisory lock on a connection of its own, held while it lives: a second learner on the
// same database is refused, and the lock goes with the holder's session (a crash, a killed process).

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
            connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration, id: 2, logger: logger)
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

/// The connection that holds the learner's lock (closing it releases the lock).
actor LearnerLockHolder {
    private var connection: PostgresConnection?

    func hold(_ connection: PostgresConnection) { self.connection = connection }

    func release() async {
        try? await connection?.close()
        connection = nil
    }
}
