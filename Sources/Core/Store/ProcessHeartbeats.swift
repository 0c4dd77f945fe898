// ProcessHeartbeats: the port through which processes sharing a store see each other — each records a heartbeat
// (its role, address and the version it serves) every few seconds, and `/admin/replicas` lists those seen lately.
// PostgreSQL keeps them in the `processes` table; `InMemoryProximaStore` is the twin. A process alone on its
// store (SQLite) has no one to see and lists itself.

import Foundation

/// One process as its last heartbeat described it.
public struct ProcessRecord: Sendable, Equatable, Codable {
    /// Unique per process start.
    public var id: String
    /// `all`, `replica` or `learner`.
    public var role: String
    public var hostname: String
    public var pid: Int32
    /// Where it serves HTTP, as bound (`http://127.0.0.1:8080`).
    public var address: String
    /// The version new requests get there.
    public var servingVersion: String?
    /// Whether it is the learner now (a standby is not).
    public var isLearner: Bool
    public var startedAt: Date
    public var lastSeen: Date

    public init(id: String, role: String, hostname: String, pid: Int32, address: String, servingVersion: String?,
                isLearner: Bool, startedAt: Date, lastSeen: Date) {
        self.id = id; self.role = role; self.hostname = hostname; self.pid = pid; self.address = address
        self.servingVersion = servingVersion; self.isLearner = isLearner; self.startedAt = startedAt; self.lastSeen = lastSeen
    }
}

public protocol ProcessHeartbeats: Sendable {
    /// Stores `record` in place of the process's previous heartbeat, and forgets processes not seen since `forgetBefore`.
    func recordHeartbeat(_ record: ProcessRecord, forgetBefore: Date) async throws
    /// The processes whose last heartbeat is at or after `since`, most recently started first.
    func heartbeats(seenSince since: Date) async throws -> [ProcessRecord]
    /// Forgets a process (it stopped).
    func removeHeartbeat(id: String) async throws
}
