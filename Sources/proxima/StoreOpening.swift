// StoreOpening: the store `serve` and the offline commands (policies, train, import-adapter) use — PostgreSQL
// when `database.url` is set, else the SQLite file `db` — the options that name it, and how to close it.

import ArgumentParser
import Foundation
import Logging
import PostgresStore
import ProximaApp
import ProximaCore
import Store

/// How an offline command names its database: a configuration file as `serve` reads it (its database and policies
/// directory; the installed one by default), or the SQLite file or PostgreSQL URL itself.
struct DatabaseOptions: ParsableArguments {
    @Option(help: "Configuration file (as for serve: its database and policies directory).") var config: String?
    @Option(help: "SQLite database file (default data/proxima.sqlite).") var db: String?
    @Option(help: "PostgreSQL database instead of the SQLite file: postgres://user@host:5432/database (database.url).")
    var database: String?

    /// Whether any of them was given.
    var isGiven: Bool { config != nil || db != nil || database != nil }

    /// The settings they select (with `model` as the `--model` flag), after checking that an SQLite file exists.
    func settings(model: String? = nil) async throws -> ServeSettings {
        var flags: [ServeSettings.Flag: String] = [:]
        flags[.db] = db
        flags[.database] = database
        flags[.model] = model
        let settings = try await ServeSettings.load(file: config, flags: flags)
        guard !settings.databaseURL.isEmpty || FileManager.default.fileExists(atPath: settings.db) else {
            throw CLIError("no database at \(settings.db)")
        }
        return settings
    }
}

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

    /// Runs `body` on the store, then closes it (also when `body` throws).
    func closing<T>(_ body: (OpenedStore) async throws -> T) async throws -> T {
        let result: T
        do { result = try await body(self) } catch {
            await close()
            throw error
        }
        await close()
        return result
    }

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
