// StoreError: what can go wrong when reading or writing the store, the same for every implementation.
// Every case says what was wrong and carries a hint; the HTTP edge maps them (unknown ids → 404, conflicts → 409).

import Foundation

// MARK: - Errors

/// Errors from a `ProximaStore`. SQLite and in-memory stores throw the same cases for the same input.
public enum StoreError: Error, Equatable, CustomStringConvertible {
    /// A feedback event names a response id (request id) that was never logged.
    case unknownResponse(id: String)
    /// A feedback event names a pair id that was never logged.
    case unknownPair(id: String)
    /// A thumb names a sample index the response does not have.
    case unknownSample(requestID: String, index: Int)
    /// A policy version id that does not exist.
    case unknownVersion(id: String)
    /// A phase id that does not exist.
    case unknownPhase(id: Int64)
    /// The same feedback event id came back with different content.
    case feedbackConflict(eventID: String)
    /// A request id or pair id that is already logged.
    case duplicateRequest(id: String)
    /// A record does not satisfy the store's rules (sample indices, blob lengths, hashes, …).
    case invalidRecord(what: String, hint: String)
    /// A status change the lifecycle does not allow (e.g. serving a rejected version, finishing a finished phase).
    case invalidTransition(what: String, from: String, to: String, hint: String)
    /// The database was created for another base model than the one being served.
    case baseModelMismatch(stored: String, given: String)
    /// A row in the database does not decode (a blob of the wrong length, JSON that does not parse).
    case corruptRow(table: String, detail: String)
    /// The database refused the operation (I/O error, disk full, server unreachable, constraint violation the
    /// validation missed).
    case database(message: String)

    /// What went wrong.
    public var message: String {
        switch self {
        case .unknownResponse(let id): "no response with id \(id)"
        case .unknownPair(let id): "no response pair with id \(id)"
        case .unknownSample(let requestID, let index): "response \(requestID) has no sample \(index)"
        case .unknownVersion(let id): "no policy version \(id)"
        case .unknownPhase(let id): "no phase \(id)"
        case .feedbackConflict(let eventID): "feedback event \(eventID) was already recorded with different content"
        case .duplicateRequest(let id): "\(id) is already logged"
        case .invalidRecord(let what, _): "invalid record: \(what)"
        case .invalidTransition(let what, let from, let to, _): "\(what) cannot go from \(from) to \(to)"
        case .baseModelMismatch(let stored, let given):
            "the database belongs to base model sha256 \(stored), not \(given)"
        case .corruptRow(let table, let detail): "corrupt row in \(table): \(detail)"
        case .database(let message): "database error: \(message)"
        }
    }

    /// How to fix it.
    public var hint: String {
        switch self {
        case .unknownResponse: "use the `id` of a chat completion returned by this server"
        case .unknownPair: "use the `proxima.pair_id` of a chat completion that sampled a pair"
        case .unknownSample: "rate sample 0 (the shown response) or, with n = 2, sample 1"
        case .unknownVersion: "list the versions with GET /admin/policies"
        case .unknownPhase: "list the phases with GET /admin/phases"
        case .feedbackConflict: "send a new event_id for a new verdict; reuse an event_id only to retry the same event"
        case .duplicateRequest: "every chat completion needs a fresh id and pair id"
        case .invalidRecord(_, let hint): hint
        case .invalidTransition(_, _, _, let hint): hint
        case .baseModelMismatch: "serve the model this database was created with, or start a new database (--db)"
        case .corruptRow: "the database was changed outside Proxima; restore it from a backup"
        case .database: "check that the database (its file, or its server) is reachable, writable and not full"
        }
    }

    public var description: String { "\(message) (\(hint))" }
}
