// PostgresProximaStore+Heartbeats: the processes serving from this database (`ProcessHeartbeats`), one row each
// in `processes`, rewritten by its heartbeat.

import Foundation
import PostgresNIO
import ProximaCore

extension PostgresProximaStore: ProcessHeartbeats {
    public func recordHeartbeat(_ record: ProcessRecord, forgetBefore: Date) async throws {
        try await write("recording the heartbeat of process \(record.id)") { db in
            try await db.execute("""
                INSERT INTO processes (id, role, hostname, pid, address, serving_version, is_learner, started_at, last_seen)
                VALUES (\(record.id), \(record.role), \(record.hostname), \(record.pid), \(record.address), \(record.servingVersion),
                        \(record.isLearner), \(StoredTime.milliseconds(record.startedAt)), \(StoredTime.milliseconds(record.lastSeen)))
                ON CONFLICT (id) DO UPDATE SET serving_version = EXCLUDED.serving_version, is_learner = EXCLUDED.is_learner,
                                               address = EXCLUDED.address, last_seen = EXCLUDED.last_seen
                """)
            try await db.execute("DELETE FROM processes WHERE last_seen < \(StoredTime.milliseconds(forgetBefore))")
        }
    }

    public func heartbeats(seenSince since: Date) async throws -> [ProcessRecord] {
        try await read("listing processes") { db in
            try await db.rows("SELECT * FROM processes WHERE last_seen >= \(StoredTime.milliseconds(since)) ORDER BY started_at DESC, id DESC")
                .map { row in
                    ProcessRecord(id: try row.value("id", in: "processes"), role: try row.value("role", in: "processes"),
                                  hostname: try row.value("hostname", in: "processes"), pid: try row.value("pid", in: "processes"),
                                  address: try row.value("address", in: "processes"),
                                  servingVersion: try row.decoded("serving_version", "processes"),
                                  isLearner: try row.value("is_learner", in: "processes"),
                                  startedAt: StoredTime.date(try row.value("started_at", in: "processes")),
                                  lastSeen: StoredTime.date(try row.value("last_seen", in: "processes")))
                }
        }
    }

    public func removeHeartbeat(id: String) async throws {
        try await write("removing process \(id)") { db in try await db.execute("DELETE FROM processes WHERE id = \(id)") }
    }
}

extension PostgresProximaStore {
    /// Whether this store's connections to the server are encrypted (what `/admin/replicas` operators and the
    /// TLS tests check).
    public func connectionUsesTLS() async throws -> Bool {
        try await read("checking the connection's TLS") { db in
            try await db.rows("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").first?.value("ssl", in: "pg_stat_ssl") ?? false
        }
    }
}
