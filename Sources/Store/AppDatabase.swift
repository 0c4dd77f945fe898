// AppDatabase: the one owner of the SQLite connection(s): configuration (WAL, foreign keys, busy timeout,
// synchronous mode) and the frozen migrations, for a file (DatabasePool) or in memory (tests, same configuration).

import Foundation
import ProximaCore
import GRDB

// MARK: - AppDatabase

/// The database of the service: one `DatabaseWriter`, configured once and migrated on open.
/// Application code goes through `SQLiteProximaStore`; `writer` is public for inspection tools and tests.
public struct AppDatabase: Sendable {
    /// The connection(s): a `DatabasePool` (WAL) for a file, a `DatabaseQueue` in memory.
    public let writer: any DatabaseWriter

    /// Configures nothing: `writer` must come from `AppDatabase.configuration()`. Runs the migrations (up to
    /// and including `upTo`, every one when nil).
    init(writer: any DatabaseWriter, upTo migration: String? = nil) throws {
        self.writer = writer
        do {
            if let migration { try StoreSchema.migrator.migrate(writer, upTo: migration) } else { try StoreSchema.migrator.migrate(writer) }
        } catch {
            throw StoreError.wrapping(error, doing: "migrating the database")
        }
    }

    /// The migrations, oldest first.
    public static var migrations: [String] { StoreSchema.migrator.migrations }

    /// Opens (creating if needed) the database file at `path`, and its folder, in WAL mode. `upTo` stops the
    /// migrations at an older schema (for upgrade tests).
    public static func open(path: String, upTo migration: String? = nil) throws -> AppDatabase {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            return try AppDatabase(writer: DatabasePool(path: path, configuration: configuration()), upTo: migration)
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.wrapping(error, doing: "opening \(path)")
        }
    }

    /// A fresh private database in memory with the production configuration (for tests).
    public static func inMemory() throws -> AppDatabase {
        do {
            return try AppDatabase(writer: DatabaseQueue(configuration: configuration()))
        } catch let error as StoreError {
            throw error
        } catch {
            throw StoreError.wrapping(error, doing: "opening an in-memory database")
        }
    }

    /// Closes the connections (at shutdown). Later use of this database throws.
    public func close() throws {
        do {
            if let pool = writer as? DatabasePool { try pool.close() }
            if let queue = writer as? DatabaseQueue { try queue.close() }
        } catch {
            throw StoreError.wrapping(error, doing: "closing the database")
        }
    }

    // MARK: Configuration

    /// The configuration of every connection.
    ///
    /// Durability: a file database runs in WAL mode with `synchronous = NORMAL`. A committed transaction
    /// has been written to the WAL file (the `write` system call returned) before `commit` returns; only
    /// the fsync is left to checkpoints. The kernel keeps written data when a process dies, so a kill -9
    /// at any moment loses no committed transaction; only an operating-system crash or a power cut can
    /// lose the last ones, which is out of scope (invariant 2 is about process crashes). `FULL` would add
    /// an fsync to every commit (milliseconds each) for that case.
    static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.label = "proxima"
        configuration.foreignKeysEnabled = true
        // Waits for another process's write lock (e.g. `proxima export` while `proxima serve` runs).
        configuration.busyMode = .timeout(5)
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
        }
        return configuration
    }
}

// MARK: - Error wrapping

extension StoreError {
    /// A StoreError as is; any other error (GRDB's, the file system's) as `.database` saying what was being done.
    static func wrapping(_ error: any Error, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? DatabaseError {
            return .database(message: "\(what): \(error.message ?? "SQLite error") (code \(error.extendedResultCode.rawValue))")
        }
        return .database(message: "\(what): \(error)")
    }
}
