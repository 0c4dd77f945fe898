// SchemaConstraintTests: the v1 migration creates the documented schema with the production configuration,
// and SQLite itself refuses bad rows written behind the store's back (the constraints are the backstop).

import Foundation
import GRDB
import ProximaCore
import Store
import Testing

// MARK: - Schema

@Suite("SQLite schema") struct SchemaTests {
    @Test func migrationsCreateTheSchemaWithTheProductionConfiguration() async throws {
        let folder = TempFolder()
        for database in [try AppDatabase.inMemory(), try AppDatabase.open(path: folder.path("db/nested/proxima.sqlite"))] {
            try await database.writer.read { db in
                let tables = try String.fetchAll(db, sql: """
                    SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'
                    ORDER BY name
                    """)
                #expect(tables == ["feedback", "meta", "phase_pairs", "phases", "policy_versions", "requests", "samples"])
                #expect(try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations") == ["v1", "v2", "v3"])
                #expect(try Int.fetchOne(db, sql: "PRAGMA foreign_keys") == 1)
                let columns = try String.fetchAll(db, sql: "SELECT name FROM pragma_table_info('samples') ORDER BY cid")
                #expect(columns == ["request_id", "sample_index", "token_ids", "logprobs", "text", "finish_reason", "shown"])
                let strict = try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM pragma_table_list WHERE strict = 1 AND schema = 'main'")
                #expect(strict == 7)
            }
        }
        let file = try AppDatabase.open(path: folder.path("db/nested/proxima.sqlite"))
        let pragmas = try file.writer.write { db in
            try Row.fetchOne(db, sql: "SELECT * FROM pragma_journal_mode, pragma_synchronous, pragma_busy_timeout")
        }
        #expect(pragmas == ["journal_mode": "wal", "synchronous": 1, "timeout": 5000])  // synchronous 1 = NORMAL
    }
}

// MARK: - Constraints

@Suite("SQLite constraints") struct ConstraintTests {
    /// A database with v0 serving, a candidate v1, a pair request "r" and a phase 1.
    static func populated() async throws -> AppDatabase {
        let database = try AppDatabase.inMemory()
        let store = SQLiteProximaStore(database: database)
        _ = try await store.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(0))
        _ = try await store.insertCandidate(Fixtures.candidate())
        try await Fixtures.log(store, "r")
        _ = try await store.createPhase(PhaseDraft(trigger: .pairs, config: [:], baseVersion: "v0", createdAt: Fixtures.time(1)))
        return database
    }

    static let refused: [(String, String)] = [
        ("bad enum", "UPDATE requests SET status = 'done'"),
        ("bad sample enum", "UPDATE samples SET finish_reason = 'eos' WHERE sample_index = 0"),
        ("blob length mismatch", "UPDATE samples SET logprobs = X'0000803F' WHERE sample_index = 0"),
        ("ragged token blob", "UPDATE requests SET prompt_token_ids = X'010203'"),
        ("second serving version", "UPDATE policy_versions SET status = 'serving' WHERE id = 'v1'"),
        ("dangling version", "UPDATE requests SET policy_version = 'v9'"),
        ("dangling parent", "UPDATE policy_versions SET parent = 'v9' WHERE id = 'v1'"),
        ("dangling feedback", """
            INSERT INTO feedback (event_id, request_id, kind, value, rated_index, source, created_at)
            VALUES ('e', 'nope', 'thumb', 'up', 0, 'user', 0)
            """),
        ("thumb with a choice value", """
            INSERT INTO feedback (event_id, request_id, kind, value, rated_index, source, created_at)
            VALUES ('e', 'r', 'thumb', 'tie', 0, 'user', 0)
            """),
        ("tie with a preference", """
            INSERT INTO feedback (event_id, request_id, kind, value, source, created_at, chosen_index, rejected_index)
            VALUES ('e', 'r', 'choice', 'tie', 'user', 0, 0, 1)
            """),
        ("choice without its preference", """
            INSERT INTO feedback (event_id, request_id, kind, value, source, created_at) VALUES ('e', 'r', 'choice', '1', 'user', 0)
            """),
        ("thumb-up preferring the other sample", """
            INSERT INTO feedback (event_id, request_id, kind, value, rated_index, source, created_at, chosen_index, rejected_index)
            VALUES ('e', 'r', 'thumb', 'up', 0, 'user', 0, 1, 0)
            """),
        ("sample index 2", """
            INSERT INTO samples (request_id, sample_index, token_ids, logprobs, text, finish_reason, shown)
            VALUES ('r', 2, X'', X'', '', 'stop', 0)
            """),
        ("not a sha256", "UPDATE policy_versions SET adapter_sha256 = 'ABC' WHERE id = 'v1'"),
        ("adapter path without hash", "UPDATE policy_versions SET adapter_sha256 = NULL WHERE id = 'v1'"),
        ("succeeded phase without result", "UPDATE phases SET status = 'succeeded', started_at = 1, finished_at = 2"),
        ("failed phase without error", "UPDATE phases SET status = 'failed', finished_at = 2"),
        ("cancelled phase without a reason", "UPDATE phases SET status = 'cancelled', finished_at = 2"),
        ("unknown phase status", "UPDATE phases SET status = 'paused'"),
        ("config not JSON", "UPDATE phases SET config = '{oops'"),
        ("messages not an array", "UPDATE requests SET messages = '{}'"),
        ("text in an integer column", "UPDATE requests SET n = 'two'"),
    ]

    @Test(arguments: refused.map(\.0))
    func sqliteRefusesBadRows(name: String) async throws {
        let database = try await Self.populated()
        let sql = try #require(Self.refused.first { $0.0 == name }?.1)
        await #expect(throws: DatabaseError.self, "\(name) was accepted") {
            try await database.writer.write { db in try db.execute(sql: sql) }
        }
    }

    @Test func deletingARequestDeletesItsSamplesAndFeedback() async throws {
        let database = try await Self.populated()
        let store = SQLiteProximaStore(database: database)
        _ = try await store.recordFeedback(Fixtures.thumb("r", .up))
        let remaining = try await database.writer.write { db in
            try db.execute(sql: "DELETE FROM requests WHERE id = 'r'")
            return try Int.fetchOne(db, sql: "SELECT (SELECT COUNT(*) FROM samples) + (SELECT COUNT(*) FROM feedback)")
        }
        #expect(remaining == 0)
    }

    @Test func storeErrorsWrapSQLiteFailures() async throws {
        let database = try AppDatabase.inMemory()
        let store = SQLiteProximaStore(database: database)
        try database.close()
        do {
            try await store.checkWritable()
            Issue.record("a closed database passed the health check")
        } catch let error as StoreError {
            guard case .database(let message) = error else {
                Issue.record("expected a database error, got \(error)")
                return
            }
            #expect(message.contains("writable"))
        }
    }
}
