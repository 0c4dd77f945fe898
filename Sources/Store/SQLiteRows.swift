// SQLiteRows: GRDB's rows as the core's `StoreRow`, so that `StoreRows` reads the records from them; a value of
// the wrong type is `corruptRow`, never a crash.

import Foundation
import GRDB
import ProximaCore

extension Row: StoreRow {
    package func optionalText(_ column: String, in table: String) throws -> String? { try decoded(column, table) }
    package func optionalInteger(_ column: String, in table: String) throws -> Int64? { try decoded(column, table) }
    package func optionalBytes(_ column: String, in table: String) throws -> Data? { try decoded(column, table) }

    private func decoded<T: DatabaseValueConvertible>(_ column: String, _ table: String) throws -> T? {
        do {
            return try decode(T?.self, forColumn: column)
        } catch {
            throw StoreError.corruptRow(table: table, detail: "column \(column): \(error)")
        }
    }
}
