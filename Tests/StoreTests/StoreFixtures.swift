// StoreFixtures: the three stores every behavioural test runs on (SQLite in memory, SQLite on a temp file,
// the in-memory twin) and builders for requests, samples, feedback and candidates. Each suite instance (one
// per test) owns a TempFolder, so a file store's folder outlives the test and is removed after it.

import Foundation
import ProximaCore
import Store
import Testing
import Logging
import PostgresNIO
import PostgresStore

// MARK: - The stores under test

/// Which implementation a behavioural test runs on; every behavioural test runs on all of them (PostgreSQL when
/// `PROXIMA_TEST_POSTGRES_URL` names a server, as ops/test sets it; `postgresRunsInCI` fails CI without one).
enum StoreKind: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case sqliteInMemory, sqliteFile, inMemory, postgres

    static var allCases: [StoreKind] {
        [.sqliteInMemory, .sqliteFile, .inMemory] + (PostgresTestServer.url == nil ? [] : [.postgres])
    }

    var testDescription: String { rawValue }

    /// A fresh, empty store of this kind; a file store lives in `folder`, which the test keeps alive; a PostgreSQL
    /// store in a new database of the test server.
    func make(in folder: TempFolder) async throws -> any ProximaStore {
        switch self {
        case .sqliteInMemory: SQLiteProximaStore(database: try AppDatabase.inMemory())
        case .sqliteFile: SQLiteProximaStore(database: try AppDatabase.open(path: folder.path("proxima.sqlite")))
        case .inMemory: InMemoryProximaStore()
        case .postgres: try await PostgresTestServer.freshStore()
        }
    }
}

/// The PostgreSQL server the tests may use (`PROXIMA_TEST_POSTGRES_URL`, e.g. postgres://proxima@127.0.0.1:55432/postgres):
/// each store gets a database of its own, created through one shared admin client. ops/test starts a throwaway
/// server for each run, so the databases are not dropped.
enum PostgresTestServer {
    static let url: PostgresURL? = ProcessInfo.processInfo.environment["PROXIMA_TEST_POSTGRES_URL"].map { text in
        do { return try PostgresURL(text) } catch { fatalError("PROXIMA_TEST_POSTGRES_URL: \(error)") }
    }

    /// The PEM certificate the test server's TLS uses (ops/lib.sh makes it), when it offers TLS.
    static let rootCertificate = ProcessInfo.processInfo.environment["PROXIMA_TEST_POSTGRES_ROOT_CERT"]

    static let logger = {
        var logger = Logger(label: "proxima.tests.postgres")
        logger.logLevel = .error
        return logger
    }()

    private static let admin: PostgresClient? = url.map { url in
        let client = PostgresClient(configuration: url.clientConfiguration(maximumConnections: 2), backgroundLogger: logger)
        Task { await client.run() }
        return client
    }

    /// A new, empty database on the test server (its URL).
    static func freshDatabase() async throws -> PostgresURL {
        guard var url, let admin else { throw StoreError.database(message: "PROXIMA_TEST_POSTGRES_URL is not set") }
        let name = "proxima_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
        try await admin.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name)"))
        url.database = name
        return url
    }

    /// Runs `sql` on the server as its superuser.
    static func execute(_ sql: String) async throws {
        guard let admin else { throw StoreError.database(message: "PROXIMA_TEST_POSTGRES_URL is not set") }
        try await admin.query(PostgresQuery(unsafeSQL: sql))
    }

    /// A store on a new, empty database.
    static func freshStore() async throws -> PostgresProximaStore {
        try await PostgresProximaStore.connect(try await freshDatabase(), maximumConnections: 4, logger: logger)
    }
}

/// A temporary folder removed when the last reference goes.
final class TempFolder: Sendable {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-store-tests-\(UUID().uuidString)")
        try? FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    deinit { try? FileManager.default.removeItem(at: url) }
}

// MARK: - Builders

enum Fixtures {
    static let baseSHA = String(repeating: "ab", count: 32)
    static let otherSHA = String(repeating: "cd", count: 32)

    /// A time on a whole millisecond, `seconds` after a fixed origin.
    static func time(_ seconds: Double) -> Date { Date(timeIntervalSince1970: 1_750_000_000 + seconds) }

    static let sampling = SamplingRecord(temperature: 0.7, topP: 0.9, topK: 40, minP: 0.05, maxTokens: 64,
                                         seed: UInt64.max, stop: ["\n\n", "</s>"])

    /// A store with the base version "v0" serving.
    static func seeded(_ kind: StoreKind, in folder: TempFolder) async throws -> any ProximaStore {
        let store = try await kind.make(in: folder)
        _ = try await store.ensureBaseVersion(baseModelSHA256: baseSHA, at: time(0))
        return store
    }

    /// A request with one sample (`pair: false`) or a pair of two (`pair-<id>`), tokens distinct per sample
    /// unless `identical`.
    static func request(_ id: String, pair: Bool = true, n: Int = 1, version: String = "v0",
                        status: RequestStatus = .completed, finish: FinishReason = .stop, identical: Bool = false,
                        at seconds: Double = 1) -> (RequestRecord, [SampleRecord]) {
        let request = RequestRecord(id: id, pairID: pair ? "pair-\(id)" : nil, createdAt: time(seconds), apiKeyID: "key-1",
                                    policyVersion: version,
                                    messages: [ChatMessage(role: "system", content: "Be brief."),
                                               ChatMessage(role: "user", content: "Hello “world” \(id)")],
                                    promptTokenIDs: [1, 9_906, 49_151, 0, 2], sampling: sampling, n: n, stream: false,
                                    status: status)
        let count = pair ? 2 : 1
        let samples = (0..<count).map { index in
            let shift = identical ? 0 : index * 1000
            return SampleRecord(index: index, tokenIDs: [17 + shift, 4 + shift, 2], logprobs: [-0.25, -1.5e-7, -12.75],
                                text: "answer \(identical ? 0 : index)", finishReason: finish, shown: index < n)
        }
        return (request, samples)
    }

    /// Logs `request(id, …)` and returns the request.
    @discardableResult
    static func log(_ store: any ProximaStore, _ id: String, pair: Bool = true, n: Int = 1,
                    status: RequestStatus = .completed, finish: FinishReason = .stop,
                    identical: Bool = false) async throws -> RequestRecord {
        let (request, samples) = request(id, pair: pair, n: n, status: status, finish: finish, identical: identical)
        try await store.logRequest(request, samples: samples)
        return request
    }

    static func thumb(_ responseID: String, _ rating: ThumbRating, sample: Int = 0, event: String? = nil,
                      source: FeedbackSource = .user, comment: String? = nil, at seconds: Double = 2) -> FeedbackEvent {
        FeedbackEvent(eventID: event, subject: .thumb(responseID: responseID, sampleIndex: sample, rating: rating),
                      source: source, comment: comment, apiKeyID: "key-1", createdAt: time(seconds))
    }

    static func choice(_ pairID: String, _ choice: PairChoice, event: String? = nil, source: FeedbackSource = .user,
                       at seconds: Double = 2) -> FeedbackEvent {
        FeedbackEvent(eventID: event, subject: .choice(pairID: pairID, choice: choice), source: source, createdAt: time(seconds))
    }

    static func candidate(parent: String = "v0", phase: Int64? = nil, tag: Character = "1") -> CandidateVersion {
        let sha = String(repeating: tag, count: 64)
        return CandidateVersion(parent: parent, phaseID: phase, createdAt: time(10),
                                adapter: StoredFile(path: "adapters/\(sha).safetensors.z", sha256: sha),
                                state: StoredFile(path: "states/\(sha).state.z", sha256: sha),
                                metrics: ["win_rate": 0.625, "pairs": 16])
    }
}

// MARK: - Expectations

/// Expects `body` to throw `expected` (compared by message: the case and its values, not the hint).
func expectStoreError<T>(_ expected: StoreError, sourceLocation: SourceLocation = #_sourceLocation,
                         _ body: () async throws -> T) async {
    do {
        _ = try await body()
        Issue.record("expected \(expected), nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as StoreError {
        #expect(error.message == expected.message, sourceLocation: sourceLocation)
        #expect(!error.hint.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(expected), got \(error)", sourceLocation: sourceLocation)
    }
}

/// Expects `body` to throw `invalidRecord` (any message).
func expectInvalidRecord<T>(sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> T) async {
    do {
        _ = try await body()
        Issue.record("expected invalidRecord, nothing was thrown", sourceLocation: sourceLocation)
    } catch StoreError.invalidRecord(_, let hint) {
        #expect(!hint.isEmpty, sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected invalidRecord, got \(error)", sourceLocation: sourceLocation)
    }
}
