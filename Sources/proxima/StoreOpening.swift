// StoreOpening: the store `serve` and `import-adapter` use — PostgreSQL when `database.url` is set, else the
// SQLite file `db` — and how to close it.

import Foundation
import Logging
import PostgresStore
import ProximaApp
import ProximaCore
import Store

/// An open store and what it is, for messages.
struct OpenedStore: Sendable {
    let store: any ProximaStore
    /// Where versions' files are shared (PostgreSQL), or nil (SQLite: the policies directory is the only copy).
    let sharedFiles: (any SharedVersionFiles)?
    /// Changes made by other processes (PostgreSQL), or nil.
    let notifications: (any StoreNotifications)?
    /// One learner per database (PostgreSQL's lock), or nil.
    let learnerElection: (any LearnerElection)?
    /// The processes sharing the database (PostgreSQL), or nil.
    let heartbeats: (any ProcessHeartbeats)?
    /// The SQLite path or the URL (password hidden).
    let location: String
    let close: @Sendable () async -> Void

    static func open(_ settings: ServeSettings, logger: Logger) async throws -> OpenedStore {
        if settings.databaseURL.isEmpty {
            let database = try AppDatabase.open(path: settings.db)
            return OpenedStore(store: SQLiteProximaStore(database: database), sharedFiles: nil, notifications: nil, learnerElection: nil,
                               heartbeats: nil, location: settings.db, close: { try? database.close() })
        }
        let url: PostgresURL
        do { url = try PostgresURL(settings.databaseURL) } catch { throw CLIError("database.url: \(error)") }
        do {
            // A process with the learner is elected once serving (a standby serves chat meanwhile: LearnerService).
            let store = try await PostgresProximaStore.connect(url, logger: logger)
            return OpenedStore(store: store, sharedFiles: store, notifications: store, learnerElection: store, heartbeats: store,
                               location: url.description, close: { await store.shutdown() })
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)")
        }
    }
}
