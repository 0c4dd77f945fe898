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
    /// Changes of the serving version made by other processes (PostgreSQL), or nil.
    let servingNotifications: (any ServingVersionNotifications)?
    /// The SQLite path or the URL (password hidden).
    let location: String
    let close: @Sendable () async -> Void

    static func open(_ settings: ServeSettings, logger: Logger) async throws -> OpenedStore {
        if settings.databaseURL.isEmpty {
            let database = try AppDatabase.open(path: settings.db)
            return OpenedStore(store: SQLiteProximaStore(database: database), sharedFiles: nil, servingNotifications: nil, location: settings.db, close: { try? database.close() })
        }
        let url: PostgresURL
        do { url = try PostgresURL(settings.databaseURL) } catch { throw CLIError("database.url: \(error)") }
        do {
            let store = try await PostgresProximaStore.connect(url, logger: logger)
            if settings.learner.enabled {
                // A standby learner: it starts (and serves) once the process holding the lock is gone; it then
                // marks the phase that process left running as failed, as after a crash.
                try await store.waitForLearnerLock {
                    logger.notice("another process runs the learner on \(url); waiting as its standby (a serving-only replica sets learner.enabled: false)")
                }
            }
            return OpenedStore(store: store, sharedFiles: store, servingNotifications: store, location: url.description, close: { await store.shutdown() })
        } catch let error as CLIError {
            throw error
        } catch {
            throw CLIError("\(error)")
        }
    }
}
