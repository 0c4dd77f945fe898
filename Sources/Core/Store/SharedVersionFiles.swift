// SharedVersionFiles: the port through which processes that share a database but not a disk share the files of
// policy versions — blobs named by their sha256, written once, checked by the reader. PostgreSQL implements it
// (PostgresProximaStore); `InMemorySharedVersionFiles` is the twin.

import Foundation

/// Version files stored in the database, by sha256.
public protocol SharedVersionFiles: Sendable {
    /// Stores `bytes` under `sha256` (their hash, which the caller computed) unless stored already.
    func putFile(sha256: String, bytes: [UInt8]) async throws
    /// The bytes stored under `sha256`, or nil. The caller checks them against the hash.
    func file(sha256: String) async throws -> [UInt8]?
    /// Which of `sha256s` are stored.
    func storedFiles(_ sha256s: [String]) async throws -> Set<String>
    /// Removes the file; false when it was not there.
    @discardableResult
    func removeFile(sha256: String) async throws -> Bool
}

/// The twin: blobs in memory.
public actor InMemorySharedVersionFiles: SharedVersionFiles {
    private var blobs: [String: [UInt8]] = [:]

    public init() {}

    public func putFile(sha256: String, bytes: [UInt8]) { if blobs[sha256] == nil { blobs[sha256] = bytes } }
    public func file(sha256: String) -> [UInt8]? { blobs[sha256] }
    public func storedFiles(_ sha256s: [String]) -> Set<String> { Set(sha256s.filter { blobs[$0] != nil }) }
    public func removeFile(sha256: String) -> Bool { blobs.removeValue(forKey: sha256) != nil }

    /// Replaces a stored blob's bytes (tests: a corrupted copy).
    public func damage(sha256: String, with bytes: [UInt8]) { blobs[sha256] = bytes }
}
