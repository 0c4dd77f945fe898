// PostgresProximaStore: the ProximaStore on PostgreSQL (postgres-nio), for several processes sharing one
// database. Every write method is one SERIALIZABLE transaction, retried when PostgreSQL reports a serialization
// failure or deadlock, so the read-check-write logic the SQLite store runs under its single writer stays correct
// with concurrent writers. This file holds the connection, transactions, requests, versions and the health check.

import Foundation
import Logging
import PostgresNIO
import ProximaCore
import Synchronization

// MARK: - Store

public final class PostgresProximaStore: ProximaStore {
    let client: PostgresClient
    let logger: Logger
    public let url: PostgresURL
    private let runner: Task<Void, Never>
    let learnerLock = LearnerLockHolder()

    private init(client: PostgresClient, url: PostgresURL, logger: Logger) {
        self.client = client
        self.url = url
        self.logger = logger
        runner = Task { await client.run() }
    }

    /// Connects to `url`, applies the missing migrations and returns the store; throws `StoreError.database`
    /// naming the URL (password hidden) when the server cannot be reached or refuses.
    public static func connect(_ url: PostgresURL, maximumConnections: Int = 8, logger: Logger) async throws -> PostgresProximaStore {
        // A connection of its own first, for the migrations: an unreachable server or refused login is one clear
        // error within the connect timeout (the pool would retry in the background until its circuit breaker
        // trips, a minute later).
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 0, logger: logger)
        } catch {
            throw StoreError.database(message: "cannot connect to \(url): \(Self.reason(error))")
        }
        do {
            try await migrate(connection, logger: logger)
            try? await connection.close()
        } catch {
            try? await connection.close()
            throw StoreError.database(message: "cannot open \(url): \(StoreError.wrapping(error, doing: "applying migrations").message)")
        }
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: maximumConnections),
                                    backgroundLogger: logger)
        let store = PostgresProximaStore(client: client, url: url, logger: logger)
        try? await Task.sleep(for: .milliseconds(20))   // lets the pool's run() start before the first query
        return store
    }

    /// What a connection error says, without postgres-nio's wrapping.
    static func reason(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return "\(message) (SQLSTATE \(error.serverInfo?[.sqlState] ?? "?"))" }
        if let underlying = error.underlying { return "\(underlying)" }
        return error.code.description
    }

    /// Closes the connections (queries after this fail).
    public func shutdown() async {
        await learnerLock.release()
        runner.cancel()
        await runner.value
    }

    deinit { runner.cancel() }

    // MARK: Transactions

    /// How many times a transaction is retried after a serialization failure or deadlock.
    static let maximumRetries = 10

    /// One SERIALIZABLE write transaction; retried on a serialization failure; any error rolls it back and comes
    /// out as a `StoreError`.
    func write<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        try await transaction(what, mode: "ISOLATION LEVEL SERIALIZABLE", body)
    }

    /// One read-only transaction (a snapshot of the committed state).
    func read<T: Sendable>(_ what: String, _ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        try await transaction(what, mode: "ISOLATION LEVEL REPEATABLE READ READ ONLY", body)
    }

    /// How long a transaction may wait for the server: a query on a connection PostgreSQL ended (a restart) can
    /// wait forever in postgres-nio, and a chat request must not hang on its log write.
    static let transactionDeadline: Duration = .seconds(15)

    private func transaction<T: Sendable>(_ what: String, mode: String, _ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        try await Self.withDeadline(Self.transactionDeadline, doing: what) { [self] in try await retrying(what, mode: mode, body) }
    }

    /// `work`'s result, or `StoreError.database` when it has none within `limit` (the work is cancelled and left).
    static func withDeadline<T: Sendable>(_ limit: Duration, doing what: String, _ work: @escaping @Sendable () async throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            let race = DeadlineRace(continuation)
            let worker = Task {
                do { race.finish(.success(try await work())) } catch { race.finish(.failure(error)) }
            }
            race.setTimer(Task {
                guard (try? await Task.sleep(for: limit)) != nil else { return }
                worker.cancel()
                race.finish(.failure(StoreError.database(message: "\(what): no answer from the database within \(limit)")))
            })
        }
    }

    private func retrying<T: Sendable>(_ what: String, mode: String, _ body: @escaping @Sendable (Transaction) async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            do {
                return try await client.withConnection { connection in
                    try await Self.inTransaction(connection, mode: mode, logger: logger, body)
                }
            } catch let error as PSQLError where Self.isRetryable(error) && attempt < Self.maximumRetries {
                attempt += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 1...(5 << min(attempt, 6)))))
            } catch {
                throw StoreError.wrapping(error, doing: what)
            }
        }
    }

    /// `body` between BEGIN `mode` and COMMIT on `connection` (ROLLBACK when it throws).
    private static func inTransaction<T>(_ connection: PostgresConnection, mode: String, logger: Logger,
                                         _ body: @Sendable (Transaction) async throws -> T) async throws -> T {
        let transaction = Transaction(connection: connection, logger: logger)
        try await transaction.execute(PostgresQuery(unsafeSQL: "BEGIN \(mode)"))
        do {
            let value = try await body(transaction)
            try await transaction.execute("COMMIT")
            return value
        } catch {
            try? await transaction.execute("ROLLBACK")
            throw error
        }
    }

    /// Serialization failure (40001) or deadlock (40P01): the transaction can simply run again.
    static func isRetryable(_ error: PSQLError) -> Bool {
        guard error.code == .server, let state = error.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    /// Applies the missing migrations in one READ COMMITTED transaction under an advisory lock: a process that
    /// waited for the lock then sees the other's work (a snapshot taken before the wait would not).
    private static func migrate(_ connection: PostgresConnection, logger: Logger) async throws {
        try await inTransaction(connection, mode: "ISOLATION LEVEL READ COMMITTED", logger: logger) { db in
            try await db.execute("SELECT pg_advisory_xact_lock(\(PostgresSchema.migrationLock))")
            try await db.execute("CREATE TABLE IF NOT EXISTS proxima_migrations (id TEXT PRIMARY KEY, applied_at BIGINT NOT NULL)")
            let applied = Set(try await db.rows("SELECT id FROM proxima_migrations").map { try $0.value("id", in: "proxima_migrations") as String })
            let now = StoredTime.milliseconds(Date())
            for migration in PostgresSchema.migrations where !applied.contains(migration.id) {
                try await db.executeScript(migration.sql)
                try await db.execute("INSERT INTO proxima_migrations (id, applied_at) VALUES (\(migration.id), \(now))")
            }
        }
    }

    // MARK: Requests

    public func logRequest(_ request: RequestRecord, samples: [SampleRecord]) async throws {
        let row = try RequestRow(request, samples: samples)
        try await write("logging request \(request.id)") { db in try await Self.insert(db, row) }
    }

    public func importLabelledRequests(_ entries: [LabelledRequest]) async throws {
        let rows = try entries.map { entry in
            (request: try RequestRow(entry.request, samples: entry.samples), feedback: entry.feedback,
             eventID: try StoreRules.eventID(for: entry.feedback))
        }
        try await write("importing \(entries.count) labelled requests") { db in
            for row in rows {
                try await Self.insert(db, row.request)
                _ = try await Self.insertFeedback(db, row.feedback, eventID: row.eventID)
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

    static func insert(_ db: Transaction, _ row: RequestRow) async throws {
        let request = row.request
        guard try await db.exists("SELECT 1 FROM policy_versions WHERE id = \(request.policyVersion)") else {
            throw StoreError.unknownVersion(id: request.policyVersion)
        }
        guard try await !db.exists("SELECT 1 FROM requests WHERE id = \(request.id)") else {
            throw StoreError.duplicateRequest(id: request.id)
        }
        if let pairID = request.pairID, try await db.exists("SELECT 1 FROM requests WHERE pair_id = \(pairID)") {
            throw StoreError.duplicateRequest(id: pairID)
        }
        try await db.execute("""
            INSERT INTO requests (id, pair_id, created_at, api_key_id, policy_version, messages, prompt_token_ids,
                                  sampling, n, stream, status, client_ref)
            VALUES (\(request.id), \(request.pairID), \(StoredTime.milliseconds(request.createdAt)), \(request.apiKeyID),
                    \(request.policyVersion), \(row.messages), \(BlobCoding.tokenBlob(request.promptTokenIDs)), \(row.sampling),
                    \(request.n), \(request.stream), \(request.status.rawValue), \(request.clientRef))
            """)
        for sample in row.samples {
            try await db.execute("""
                INSERT INTO samples (request_id, sample_index, token_ids, logprobs, text, finish_reason, shown)
                VALUES (\(request.id), \(sample.index), \(BlobCoding.tokenBlob(sample.tokenIDs)),
                        \(BlobCoding.logprobBlob(sample.logprobs)), \(sample.text), \(sample.finishReason.rawValue), \(sample.shown))
                """)
        }
        if row.samples.count == 2 { try await notify(db, .learnerWork) }
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
            let order = latest ? " ORDER BY created_at DESC, seq DESC LIMIT 1" : ""
            var query = SQL("SELECT * FROM requests WHERE \(column) = ")
            query.bind(value)
            query.append(order)
            guard let row = try await db.rows(query.query).first else { return nil }
            let request = try StoreRows.request(row)
            let samples = try await db.rows("SELECT * FROM samples WHERE request_id = \(request.id) ORDER BY sample_index")
                .map(StoreRows.sample)
            return LoggedRequest(request: request, samples: samples)
        }
    }

    // MARK: Policy versions

    static func fetchVersion(_ db: Transaction, id: String) async throws -> PolicyVersionRecord? {
        try await db.rows("SELECT * FROM policy_versions WHERE id = \(id)").first.map(StoreRows.policyVersion)
    }

    static func fetchServing(_ db: Transaction) async throws -> PolicyVersionRecord? {
        try await db.rows("SELECT * FROM policy_versions WHERE status = 'serving'").first.map(StoreRows.policyVersion)
    }

    static func insertVersion(_ db: Transaction, _ version: PolicyVersionRecord) async throws {
        let metrics = try version.metrics.map(JSONText.encode)
        try await db.execute("""
            INSERT INTO policy_versions (id, parent, created_at, status, adapter_path, adapter_sha256, state_path,
                                         state_sha256, phase_id, base_model_sha256, metrics)
            VALUES (\(version.id), \(version.parent), \(StoredTime.milliseconds(version.createdAt)), \(version.status.rawValue),
                    \(version.adapter?.path), \(version.adapter?.sha256), \(version.state?.path), \(version.state?.sha256),
                    \(version.phaseID), \(version.baseModelSHA256), \(metrics))
            """)
    }

    static func setStatus(_ db: Transaction, version id: String, to status: PolicyStatus) async throws {
        try await db.execute("UPDATE policy_versions SET status = \(status.rawValue) WHERE id = \(id)")
    }

    /// Retires the serving version and serves `id`, in the caller's transaction.
    static func serve(_ db: Transaction, id: String) async throws -> ServingChange {
        guard let target = try await fetchVersion(db, id: id) else { throw StoreError.unknownVersion(id: id) }
        try StoreRules.checkServable(target)
        let previous = try await fetchServing(db)
        if let previous, previous.id == id { return ServingChange(serving: previous, retired: nil) }
        if let previous { try await setStatus(db, version: previous.id, to: .retired) }
        try await setStatus(db, version: id, to: .serving)
        try await notify(db, .servingVersion, payload: id)
        var serving = target
        serving.status = .serving
        var retired = previous
        retired?.status = .retired
        return ServingChange(serving: serving, retired: retired)
    }

    public func ensureBaseVersion(id: String, baseModelSHA256: String, at date: Date) async throws -> PolicyVersionRecord {
        try StoreRules.checkSHA256(baseModelSHA256, what: "the base model")
        return try await write("creating base version \(id)") { db in
            if let stored = try await db.rows("SELECT base_model_sha256 FROM policy_versions LIMIT 1").first {
                let storedSHA: String = try stored.value("base_model_sha256", in: "policy_versions")
                if storedSHA != baseModelSHA256 { throw StoreError.baseModelMismatch(stored: storedSHA, given: baseModelSHA256) }
            }
            if try await Self.fetchVersion(db, id: id) == nil {
                let status: PolicyStatus = try await Self.fetchServing(db) == nil ? .serving : .retired
                try await Self.insertVersion(db, PolicyVersionRecord(id: id, parent: nil, createdAt: StoredTime.normalized(date),
                                                                     status: status, adapter: nil, state: nil, phaseID: nil,
                                                                     baseModelSHA256: baseModelSHA256, metrics: nil))
            }
            guard let serving = try await Self.fetchServing(db) else {
                return try await Self.serve(db, id: id).serving
            }
            return serving
        }
    }

    public func insertCandidate(_ candidate: CandidateVersion) async throws -> PolicyVersionRecord {
        try StoreRules.validate(candidate)
        return try await write("inserting a candidate of \(candidate.parent)") { db in
            guard let parent = try await Self.fetchVersion(db, id: candidate.parent) else {
                throw StoreError.unknownVersion(id: candidate.parent)
            }
            if let phaseID = candidate.phaseID, try await Self.fetchPhase(db, id: phaseID) == nil {
                throw StoreError.unknownPhase(id: phaseID)
            }
            let ids = try await db.rows("SELECT id FROM policy_versions").map { try $0.value("id", in: "policy_versions") as String }
            let version = PolicyVersionRecord(id: StoreRules.nextVersionID(after: ids), parent: parent.id,
                                              createdAt: StoredTime.normalized(candidate.createdAt), status: .candidate,
                                              adapter: candidate.adapter, state: candidate.state,
                                              phaseID: candidate.phaseID, baseModelSHA256: parent.baseModelSHA256,
                                              metrics: candidate.metrics)
            try await Self.insertVersion(db, version)
            // Replicas fetch a candidate's files while it is gated, so that its promotion swaps at once.
            try await Self.notify(db, .servingVersion, payload: version.id)
            return version
        }
    }

    public func setServing(_ id: String) async throws -> ServingChange {
        try await write("serving version \(id)") { db in try await Self.serve(db, id: id) }
    }

    public func markRejected(_ id: String) async throws -> PolicyVersionRecord {
        try await write("rejecting version \(id)") { db in
            guard var version = try await Self.fetchVersion(db, id: id) else { throw StoreError.unknownVersion(id: id) }
            try StoreRules.checkRejectable(version)
            try await Self.setStatus(db, version: id, to: .rejected)
            version.status = .rejected
            return version
        }
    }

    public func policyVersions() async throws -> [PolicyVersionRecord] {
        try await read("listing policy versions") { db in
            try await db.rows("SELECT * FROM policy_versions ORDER BY seq").map(StoreRows.policyVersion)
        }
    }

    public func servingVersion() async throws -> PolicyVersionRecord? {
        try await read("reading the serving version") { db in try await Self.fetchServing(db) }
    }

    public func policyVersion(id: String) async throws -> PolicyVersionRecord? {
        try await read("reading version \(id)") { db in try await Self.fetchVersion(db, id: id) }
    }

    // MARK: Health

    public func checkWritable() async throws {
        try await write("checking that the database is writable") { db in
            try await db.execute("""
                INSERT INTO meta (key, value) VALUES ('writable_check', '1')
                ON CONFLICT (key) DO UPDATE SET value = (meta.value::bigint + 1)::text
                """)
        }
    }
}

/// The first of a piece of work and its deadline to finish resumes the waiter; the other is ignored.
private final class DeadlineRace<T: Sendable>: Sendable {
    private let state: Mutex<(continuation: CheckedContinuation<T, any Error>?, timer: Task<Void, Never>?)>

    init(_ continuation: CheckedContinuation<T, any Error>) { state = Mutex((continuation, nil)) }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, timer) = state.withLock { state in
            defer { state = (nil, nil) }
            return (state.continuation, state.timer)
        }
        timer?.cancel()
        continuation?.resume(with: result)
    }

    /// Keeps the timer so that finishing first cancels it (or cancels it at once when the work already finished).
    func setTimer(_ timer: Task<Void, Never>) {
        let finished = state.withLock { state in
            if state.continuation == nil { return true }
            state.timer = timer
            return false
        }
        if finished { timer.cancel() }
    }
}
