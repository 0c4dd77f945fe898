// PostgresProximaStore+Files: policy versions' files in PostgreSQL (`SharedVersionFiles`), so that serving
// replicas on other machines fetch what the learner published — each file once, by sha256, in parts.

import Foundation
import PostgresNIO
import ProximaCore

// MARK: - Shared version files

extension PostgresProximaStore: SharedVersionFiles {
    /// The largest part a file is stored in (one row, one bind).
    public static let filePartBytes = 8 << 20

    public func putFile(sha256: String, bytes: [UInt8]) async throws {
        try StoreRules.checkSHA256(sha256, what: "a version file")
        let parts = (bytes.count + Self.filePartBytes - 1) / Self.filePartBytes
        try await write("storing version file \(sha256)") { db in
            guard try await !db.exists("SELECT 1 FROM version_files WHERE sha256 = \(sha256)") else { return }
            try await db.execute("""
                INSERT INTO version_files (sha256, size, parts, created_at)
                VALUES (\(sha256), \(Int64(bytes.count)), \(parts), \(StoredTime.milliseconds(Date())))
                """)
            for part in 0..<parts {
                let chunk = Data(bytes[(part * Self.filePartBytes)..<min(bytes.count, (part + 1) * Self.filePartBytes)])
                try await db.execute("INSERT INTO version_file_parts (sha256, part, bytes) VALUES (\(sha256), \(part), \(chunk))")
            }
        }
    }

    public func file(sha256: String) async throws -> [UInt8]? {
        try await read("reading version file \(sha256)") { db in
            guard let header = try await db.rows("SELECT size, parts FROM version_files WHERE sha256 = \(sha256)").first else { return nil }
            let size: Int64 = try header.value("size", in: "version_files")
            let parts = try header.int("parts", in: "version_files")
            var bytes: [UInt8] = []
            bytes.reserveCapacity(Int(size))
            for part in 0..<parts {
                guard let row = try await db.rows("SELECT bytes FROM version_file_parts WHERE sha256 = \(sha256) AND part = \(part)").first else {
                    throw StoreError.corruptRow(table: "version_file_parts", detail: "file \(sha256) has no part \(part)")
                }
                bytes += try row.value("bytes", in: "version_file_parts") as Data
            }
            guard bytes.count == size else {
                throw StoreError.corruptRow(table: "version_file_parts", detail: "file \(sha256) holds \(bytes.count) bytes, not \(size)")
            }
            return bytes
        }
    }

    public func storedFiles(_ sha256s: [String]) async throws -> Set<String> {
        guard !sha256s.isEmpty else { return [] }
        return try await read("listing version files") { db in
            Set(try await db.rows("SELECT sha256 FROM version_files WHERE sha256 = ANY(\(sha256s))")
                .map { try $0.value("sha256", in: "version_files") as String })
        }
    }

    @discardableResult
    public func removeFile(sha256: String) async throws -> Bool {
        try await write("removing version file \(sha256)") { db in
            try await !db.rows("DELETE FROM version_files WHERE sha256 = \(sha256) RETURNING sha256").isEmpty
        }
    }
}
