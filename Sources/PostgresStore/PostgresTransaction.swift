// PostgresTransaction: what the PostgreSQL store's statements run through — a connection inside an open
// transaction, SQL assembled with bound parameters, and PostgreSQL's errors as `StoreError`s.

import Foundation
import Logging
import PostgresNIO
import ProximaCore

// MARK: - Transaction

/// A connection inside an open transaction: run statements, read rows.
struct Transaction {
    let connection: PostgresConnection
    let logger: Logger

    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        try await connection.query(query, logger: logger).collect().map(PostgresRandomAccessRow.init)
    }

    func execute(_ query: PostgresQuery) async throws {
        _ = try await connection.query(query, logger: logger).collect()
    }

    /// Runs a script of statements each ending in a semicolon at the end of a line (a migration), one by one: the
    /// extended protocol takes one statement at a time.
    func executeScript(_ sql: String) async throws {
        for statement in sql.components(separatedBy: ";\n") where !statement.allSatisfy(\.isWhitespace) {
            try await execute(PostgresQuery(unsafeSQL: statement))
        }
    }

    /// Whether `query` (a SELECT) returns a row.
    func exists(_ query: PostgresQuery) async throws -> Bool {
        try await !rows(query).isEmpty
    }

    /// The first column of the first row as an integer (a COUNT), 0 when there is none.
    func count(_ query: PostgresQuery) async throws -> Int {
        guard let row = try await rows(query).first, !row.isEmpty else { return 0 }
        return Int(try row[0].decode(Int64.self))
    }
}

/// SQL assembled from parts, its values bound as parameters $1, $2, … in order.
struct SQL {
    private(set) var text: String
    private(set) var binds = PostgresBindings()

    init(_ text: String = "") { self.text = text }

    mutating func append(_ more: String) { text += more }

    /// Appends a placeholder for `value`.
    mutating func bind<Value: PostgresDynamicTypeEncodable>(_ value: Value) {
        binds.append(value)
        text += "$\(binds.count)"
    }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: text, binds: binds) }
}

// MARK: - Error wrapping

extension StoreError {
    /// A StoreError as is; a PostgreSQL error as `.database` with its SQLSTATE and message, saying what was being done.
    static func wrapping(_ error: any Error, doing what: String) -> StoreError {
        if let error = error as? StoreError { return error }
        if let error = error as? PSQLError {
            if let info = error.serverInfo, let message = info[.message] {
                return .database(message: "\(what): \(message) (SQLSTATE \(info[.sqlState] ?? "?"))")
            }
            return .database(message: "\(what): PostgreSQL \(error.code.description)")
        }
        return .database(message: "\(what): \(error)")
    }
}
