// SQLiteProximaStore: the ProximaStore on an AppDatabase (SQLite through GRDB). Each write method is one
// named write transaction; this file holds requests, policy versions and the health check.

import Foundation
import ProximaCore
import GRDB

// MARK: - Store

/// The production store: every write is one SQLite transaction, committed to the WAL before returning.
public struct SQLiteProximaStore: ProximaStore {
    public let database: AppDatabase

    public init(database: AppDatabase) {
        self.database = database
    }

    /// One write transaction; any error rolls it back and comes out as a `StoreError`.
    func write<T: Sendable>(_ what: String, _ updates: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.writer.write(updates)
        } catch {
            throw StoreError.wrapping(error, doing: what)
        }
    }

    /// One read (a snapshot of the last committed state).
    func read<T: Sendable>(_ what: String, _ value: @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await database.writer.read(value)
        } catch {
            throw StoreError.wrapping(error, doing: what)
        }
    }

    // MARK: Requests

    public func logRequest(_ request: RequestRecord, samples: [SampleRecord]) async throws {
        let row = try RequestRow(request, samples: samples)
        try await write("logging request \(request.id)") { db in try Self.insert(db, row) }
    }

    public func importLabelledRequests(_ entries: [LabelledRequest]) async throws {
        let rows = try entries.map { entry in
            (request: try RequestRow(entry.request, samples: entry.samples), feedback: entry.feedback,
             eventID: try StoreRules.eventID(for: entry.feedback))
        }
        try await write("importing \(entries.count) labelled requests") { db in
            for row in rows {
                try Self.insert(db, row.request)
                _ = try Self.insertFeedback(db, row.feedback, eventID: row.eventID)
            }
        }
    }

    /// A request checked and encoded for its row, outside the transaction.
    struct RequestRow: Sendable {
        var request: RequestRecord
        var samples: [SampleRecord]
        var messages: String
        var sampling: String

        init(_ request: RequestRecord, samples: [SampleRecord]) throws {
            try StoreRules.validate(request, samples: samples)
            self.request = request
            self.samples = samples
            messages = try JSONText.encode(request.messages)
            sampling = try JSONText.encode(request.sampling)
        }
    }

    static func insert(_ db: Database, _ row: RequestRow) throws {
        let request = row.request
        func exists(_ sql: String, _ value: String) throws -> Bool {
            try Bool.fetchOne(db.cachedStatement(sql: "SELECT EXISTS (\(sql))"), arguments: [value]) == true
        }
        guard try exists("SELECT 1 FROM policy_versions WHERE id = ?", request.policyVersion) else {
            throw StoreError.unknownVersion(id: request.policyVersion)
        }
        guard try !exists("SELECT 1 FROM requests WHERE id = ?", request.id) else {
            throw StoreError.duplicateRequest(id: request.id)
        }
        if let pairID = request.pairID, try exists("SELECT 1 FROM requests WHERE pair_id = ?", pairID) {
            throw StoreError.duplicateRequest(id: pairID)
        }
        // Empty Data binds as NULL in SQLite, hence ifnull(?, X'') for the blobs.
        try db.cachedStatement(sql: """
            INSERT INTO requests (id, pair_id, created_at, api_key_id, policy_version, messages, prompt_token_ids,
                                  sampling, n, stream, status, client_ref)
            VALUES (?, ?, ?, ?, ?, ?, ifnull(?, X''), ?, ?, ?, ?, ?)
            """).execute(arguments: [request.id, request.pairID, StoredTime.milliseconds(request.createdAt),
                                     request.apiKeyID, request.policyVersion, row.messages,
                                     BlobCoding.tokenBlob(request.promptTokenIDs), row.sampling, request.n,
                                     request.stream, request.status.rawValue, request.clientRef])
        let insertSample = try db.cachedStatement(sql: """
            INSERT INTO samples (request_id, sample_index, token_ids, logprobs, text, finish_reason, shown)
            VALUES (?, ?, ifnull(?, X''), ifnull(?, X''), ?, ?, ?)
            """)
        for sample in row.samples {
            try insertSample.execute(arguments: [request.id, sample.index, BlobCoding.tokenBlob(sample.tokenIDs),
                                                 BlobCoding.logprobBlob(sample.logprobs), sample.text,
                                                 sample.finishReason.rawValue, sample.shown])
        }
    }

    public func loggedRequest(id: String) async throws -> LoggedRequest? {
        try await loggedRequest(where: "id", is: id)
    }

    public func loggedRequest(pairID: String) async throws -> LoggedRequest? {
        try await loggedRequest(where: "pair_id", is: pairID)
    }

    public func loggedRequest(clientRef: String) async throws -> LoggedRequest? {
        try await loggedRequest(where: "client_ref", is: clientRef, latest: true)
    }

    private func loggedRequest(where column: String, is value: String, latest: Bool = false) async throws -> LoggedRequest? {
        try await read("reading the request with \(column) \(value)") { db in
            let order = latest ? " ORDER BY created_at DESC, rowid DESC LIMIT 1" : ""
            guard let row = try Row.fetchOne(db, sql: "SELECT * FROM requests WHERE \(column) = ?\(order)", arguments: [value]) else {
                return nil
            }
            let request = try StoreRows.request(row)
            let samples = try Row.fetchAll(db, sql: "SELECT * FROM samples WHERE request_id = ? ORDER BY sample_index",
                                           arguments: [request.id]).map(StoreRows.sample)
            return LoggedRequest(request: request, samples: samples)
        }
    }

    // MARK: Policy versions

    static func fetchVersion(_ db: Database, id: String) throws -> PolicyVersionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM policy_versions WHERE id = ?", arguments: [id]).map(StoreRows.policyVersion)
    }

    static func fetchServing(_ db: Database) throws -> PolicyVersionRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM policy_versions WHERE status = 'serving'").map(StoreRows.policyVersion)
    }

    static func insertVersion(_ db: Database, _ version: PolicyVersionRecord) throws {
        try db.execute(sql: """
            INSERT INTO policy_versions (id, parent, created_at, status, adapter_path, adapter_sha256, state_path,
                                         state_sha256, phase_id, base_model_sha256, metrics)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [version.id, version.parent, StoredTime.milliseconds(version.createdAt),
                             version.status.rawValue, version.adapter?.path, version.adapter?.sha256,
                             version.state?.path, version.state?.sha256, version.phaseID, version.baseModelSHA256,
                             try version.metrics.map(JSONText.encode)])
    }

    static func setStatus(_ db: Database, version id: String, to status: PolicyStatus) throws {
        try db.execute(sql: "UPDATE policy_versions SET status = ? WHERE id = ?", arguments: [status.rawValue, id])
    }

    /// Retires the serving version and serves `id`, in the caller's transaction.
    static func serve(_ db: Database, id: String) throws -> ServingChange {
        guard let target = try Self.fetchVersion(db, id: id) else { throw StoreError.unknownVersion(id: id) }
        try StoreRules.checkServable(target)
        let previous = try Self.fetchServing(db)
        if let previous, previous.id == id { return ServingChange(serving: previous, retired: nil) }
        if let previous { try Self.setStatus(db, version: previous.id, to: .retired) }
        try Self.setStatus(db, version: id, to: .serving)
        var serving = target
        serving.status = .serving
        var retired = previous
        retired?.status = .retired
        return ServingChange(serving: serving, retired: retired)
    }

    public func ensureBaseVersion(id: String, baseModelSHA256: String, at date: Date) async throws -> PolicyVersionRecord {
        try StoreRules.checkSHA256(baseModelSHA256, what: "the base model")
        return try await write("creating base version \(id)") { db in
            if let storedSHA = try String.fetchOne(db, sql: "SELECT base_model_sha256 FROM policy_versions LIMIT 1"),
               storedSHA != baseModelSHA256 {
                throw StoreError.baseModelMismatch(stored: storedSHA, given: baseModelSHA256)
            }
            if try Self.fetchVersion(db, id: id) == nil {
                let status: PolicyStatus = try Self.fetchServing(db) == nil ? .serving : .retired
                try Self.insertVersion(db, PolicyVersionRecord(id: id, parent: nil, createdAt: StoredTime.normalized(date),
                                                          status: status, adapter: nil, state: nil, phaseID: nil,
                                                          baseModelSHA256: baseModelSHA256, metrics: nil))
            }
            guard let serving = try Self.fetchServing(db) else {
                return try Self.serve(db, id: id).serving
            }
            return serving
        }
    }

    public func insertCandidate(_ candidate: CandidateVersion) async throws -> PolicyVersionRecord {
        try StoreRules.validate(candidate)
        return try await write("inserting a candidate of \(candidate.parent)") { db in
            guard let parent = try Self.fetchVersion(db, id: candidate.parent) else {
                throw StoreError.unknownVersion(id: candidate.parent)
            }
            if let phaseID = candidate.phaseID, try Self.fetchPhase(db, id: phaseID) == nil {
                throw StoreError.unknownPhase(id: phaseID)
            }
            let ids = try String.fetchAll(db, sql: "SELECT id FROM policy_versions")
            let version = PolicyVersionRecord(id: StoreRules.nextVersionID(after: ids), parent: parent.id,
                                              createdAt: StoredTime.normalized(candidate.createdAt), status: .candidate,
                                              adapter: candidate.adapter, state: candidate.state,
                                              phaseID: candidate.phaseID, baseModelSHA256: parent.baseModelSHA256,
                                              metrics: candidate.metrics)
            try Self.insertVersion(db, version)
            return version
        }
    }

    public func setServing(_ id: String) async throws -> ServingChange {
        try await write("serving version \(id)") { db in try Self.serve(db, id: id) }
    }

    public func markRejected(_ id: String) async throws -> PolicyVersionRecord {
        try await write("rejecting version \(id)") { db in
            guard var version = try Self.fetchVersion(db, id: id) else { throw StoreError.unknownVersion(id: id) }
            try StoreRules.checkRejectable(version)
            try Self.setStatus(db, version: id, to: .rejected)
            version.status = .rejected
            return version
        }
    }

    public func policyVersions() async throws -> [PolicyVersionRecord] {
        try await read("listing policy versions") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM policy_versions ORDER BY rowid").map(StoreRows.policyVersion)
        }
    }

    public func servingVersion() async throws -> PolicyVersionRecord? {
        try await read("reading the serving version") { db in try Self.fetchServing(db) }
    }

    public func policyVersion(id: String) async throws -> PolicyVersionRecord? {
        try await read("reading version \(id)") { db in try Self.fetchVersion(db, id: id) }
    }

    // MARK: Health

    public func checkWritable() async throws {
        try await write("checking that the database is writable") { db in
            try db.execute(sql: """
                INSERT INTO meta (key, value) VALUES ('writable_check', '1')
                ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1
                """)
        }
    }
}
