// PostgresRows: postgres-nio's rows as the core's `StoreRow`, so that `StoreRows` reads the records from them;
// a missing column or a value of the wrong type is `corruptRow`, never a crash.

import Foundation
import PostgresNIO
import ProximaCore

extension PostgresRandomAccessRow: StoreRow {
    package func optionalText(_ column: String, in table: String) throws -> String? { try decoded(column, table) }
    package func optionalBytes(_ column: String, in table: String) throws -> Data? { try decoded(column, table) }

    package func optionalInteger(_ column: String, in table: String) throws -> Int64? {
        if contains(column), self[column].dataType == .bool {
            return (try decoded(column, table) as Bool?).map { $0 ? 1 : 0 }
        }
        return try decoded(column, table)
    }

    /// The column as `T` (nil for NULL).
    func decoded<T: PostgresDecodable>(_ column: String, _ table: String) throws -> T? {
        guard contains(column) else { throw StoreError.corruptRow(table: table, detail: "no column \(column)") }
        let cell = self[column]
        guard cell.bytes != nil else { return nil }
        do {
            return try cell.decode(T.self)
        } catch {
            throw StoreError.corruptRow(table: table, detail: "column \(column): \(String(reflecting: error))")
        }
    }

    /// A column that must not be NULL, as `T`.
    func value<T: PostgresDecodable>(_ column: String, in table: String) throws -> T {
        guard let value: T = try decoded(column, table) else { throw StoreError.corruptRow(table: table, detail: "column \(column) is NULL") }
        return value
    }
}
