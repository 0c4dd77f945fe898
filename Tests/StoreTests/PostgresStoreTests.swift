// PostgresStoreTests: what is particular to the PostgreSQL store — its URL, that CI runs the behavioural tests on
// it, migrations applied once by concurrent starters, and concurrent writers kept serialisable.

import Foundation
import ProximaCore
import Testing
import PostgresStore

@Suite("PostgreSQL store") struct PostgresStoreTests {
    @Test func ciRunsTheBehaviouralTestsOnPostgres() {
        // ops/test starts a server and sets the URL; without it the .postgres cases would be left out silently.
        if ProcessInfo.processInfo.environment["CI"] != nil {
            #expect(PostgresTestServer.url != nil, "CI must set PROXIMA_TEST_POSTGRES_URL (ops/test starts a server)")
        }
    }

    @Test func urlsAreParsedAndBadOnesNamed() throws {
        let url = try PostgresURL("postgres://proxima:s%40cret@db.example:6543/learn?sslmode=disable")
        #expect(url.host == "db.example" && url.port == 6543 && url.username == "proxima" && url.password == "s@cret"
                && url.database == "learn" && url.socketDirectory == nil)
        #expect(url.description == "postgres://proxima:***@db.example:6543/learn?sslmode=disable")
        let socket = try PostgresURL("postgresql://proxima@/learn?host=/run/postgresql")
        #expect(socket.socketDirectory == "/run/postgresql" && socket.port == 5432)
        for (bad, says) in [("postgres://db/learn", "no user name"), ("postgres://u@db", "no database name"),
                            ("postgres://u:pw@db/learn?sslmode=allow", "verify-full"), ("postgres://u@db/learn?x=1", "unknown parameter"),
                            ("postgres://u:pw@db/learn?sslmode=verify-ca&sslrootcert=/no/such.pem", "cannot be read"),
                            ("mysql://u@db/learn", "not a postgres:// URL"), ("postgres://u@db:0/learn", "out of range")] {
            #expect(throws: PostgresURLError.self) { try PostgresURL(bad) }
            do { _ = try PostgresURL(bad) } catch {
                #expect(error.description.contains(says), "\(bad): \(error)")
                #expect(!error.description.contains("pw@"), "the password is hidden: \(error)")
            }
        }
    }

    /// TLS as libpq's sslmodes ask: encrypted with require, checked against the given root with verify-full,
    /// refused when the server's certificate is not trusted, plain with disable.
    @Test(.enabled(if: PostgresTestServer.url != nil)) func tlsFollowsTheSSLMode() async throws {
        let base = try #require(PostgresTestServer.url)
        guard let root = PostgresTestServer.rootCertificate else {
            #expect(ProcessInfo.processInfo.environment["CI"] == nil, "CI's test server offers TLS (ops/lib.sh)")
            return
        }
        func usesTLS(_ mode: PostgresSSLMode, root: String? = nil) async throws -> Bool {
            var url = base
            url.sslMode = mode
            url.rootCertificate = root
            let store = try await PostgresProximaStore.connect(url, maximumConnections: 1, logger: PostgresTestServer.logger)
            let encrypted = try await store.connectionUsesTLS()
            await store.shutdown()
            return encrypted
        }
        #expect(try await usesTLS(.require))
        #expect(try await usesTLS(.verifyFull, root: root))
        #expect(try await usesTLS(.prefer))
        #expect(try await !usesTLS(.disable))
        // The system's roots do not trust the test server's self-signed certificate.
        await #expect(throws: StoreError.self) { _ = try await usesTLS(.verifyFull) }
    }

    @Test(.enabled(if: PostgresTestServer.url != nil)) func concurrentStartersMigrateOnce() async throws {
        let url = try await PostgresTestServer.freshDatabase()
        let stores = try await withThrowingTaskGroup(of: PostgresProximaStore.self) { group in
            for _ in 0..<4 { group.addTask { try await PostgresProximaStore.connect(url, maximumConnections: 2, logger: PostgresTestServer.logger) } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        let versions = try await withThrowingTaskGroup(of: String.self) { group in
            for store in stores {
                group.addTask { try await store.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(0)).id }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(versions == ["v0", "v0", "v0", "v0"])
        #expect(try await stores[0].policyVersions().count == 1)
        for store in stores { await store.shutdown() }
    }

    @Test(.enabled(if: PostgresTestServer.url != nil)) func concurrentWritersAreSerialised() async throws {
        // Eight writers on separate connections insert candidates at once: every id is distinct (v1 … v8), which
        // needs the read of the existing ids and the insert to be one serialisable step.
        let store = try await PostgresTestServer.freshStore()
        _ = try await store.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(0))
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for k in 0..<8 {
                group.addTask {
                    try await store.insertCandidate(CandidateVersion(parent: "v0", phaseID: nil, createdAt: Fixtures.time(Double(k)), adapter: nil,
                                                                     state: nil)).id
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        #expect(Set(ids) == Set((1...8).map { "v\($0)" }))
        // Two activations at once leave exactly one version serving.
        async let a = store.setServing("v3")
        async let b = store.setServing("v5")
        _ = try await (a, b)
        #expect(try await store.policyVersions().filter { $0.status == .serving }.count == 1)
        await store.shutdown()
    }

    @Test func anUnreachableServerIsOneClearError() async throws {
        let url = try PostgresURL("postgres://proxima@127.0.0.1:1/nowhere")
        do {
            _ = try await PostgresProximaStore.connect(url, logger: PostgresTestServer.logger)
            Issue.record("connected to nothing")
        } catch let error as StoreError {
            #expect(error.description.contains("postgres://proxima@127.0.0.1:1/nowhere"), "\(error)")
        }
    }

    @Test(.enabled(if: PostgresTestServer.url != nil)) func versionFilesRoundTripInParts() async throws {
        let store = try await PostgresTestServer.freshStore()
        var generator = SystemRandomNumberGenerator()
        let big = (0..<(PostgresProximaStore.filePartBytes * 2 + 12_345)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        let (a, b) = (String(repeating: "a1", count: 32), String(repeating: "b2", count: 32))
        try await store.putFile(sha256: a, bytes: big)
        try await store.putFile(sha256: a, bytes: big)   // idempotent
        try await store.putFile(sha256: b, bytes: [])
        #expect(try await store.file(sha256: a) == big)
        #expect(try await store.file(sha256: b) == [])
        #expect(try await store.file(sha256: String(repeating: "c3", count: 32)) == nil)
        #expect(try await store.storedFiles([a, b, String(repeating: "c3", count: 32)]) == [a, b])
        #expect(try await store.removeFile(sha256: a))
        #expect(try await !store.removeFile(sha256: a))
        #expect(try await store.file(sha256: a) == nil)
        await #expect(throws: StoreError.self) { try await store.putFile(sha256: "not-a-hash", bytes: [1]) }
        await store.shutdown()
    }

    @Test(.enabled(if: PostgresTestServer.url != nil)) func servingChangesAreNotifiedAndReReadAfterAReconnect() async throws {
        // Two processes on one database: B listens; A's activation reaches B within 2 s. Then B's listening
        // connection is killed, A rolls back while B is disconnected, and B's reconnection re-reads it.
        let url = try await PostgresTestServer.freshDatabase()
        let a = try await PostgresProximaStore.connect(url, maximumConnections: 2, logger: PostgresTestServer.logger)
        let b = try await PostgresProximaStore.connect(url, maximumConnections: 2, logger: PostgresTestServer.logger)
        _ = try await a.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(0))
        let v1 = try await a.insertCandidate(CandidateVersion(parent: "v0", phaseID: nil, createdAt: Fixtures.time(1), adapter: nil, state: nil))
        let seen = Seen()
        let follower = Task { await b.follow(.servingVersion) { if let id = try? await b.servingVersion()?.id { await seen.add(id) } } }
        defer { follower.cancel() }
        try await Self.waitFor { await seen.ids == ["v0"] }   // read once subscribed
        _ = try await a.setServing(v1.id)
        try await Self.waitFor { await seen.ids.last == v1.id }
        // Kill B's listening connection (the only one LISTENing), change the version, and wait for B to catch up.
        try await PostgresTestServer.execute("""
            SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' AND datname = '\(url.database)'
            """)
        _ = try await a.setServing("v0")
        try await Self.waitFor(seconds: 10) { await seen.ids.last == "v0" }
        await a.shutdown()
        await b.shutdown()
    }

    @Test(.enabled(if: PostgresTestServer.url != nil)) func oneLearnerPerDatabase() async throws {
        let url = try await PostgresTestServer.freshDatabase()
        let a = try await PostgresProximaStore.connect(url, maximumConnections: 2, logger: PostgresTestServer.logger)
        let b = try await PostgresProximaStore.connect(url, maximumConnections: 2, logger: PostgresTestServer.logger)
        #expect(try await a.claimLearnerLock())
        #expect(try await !b.claimLearnerLock(), "a second learner on the same database is refused")
        let tookOver = Seen()
        let standby = Task {
            try await b.waitForLearnerLock(poll: .milliseconds(50))
            await tookOver.add("b")
        }
        try await Task.sleep(for: .milliseconds(300))
        #expect(await tookOver.ids.isEmpty, "the standby waits while the holder lives")
        await a.shutdown()   // the holder's session ends (as when its process dies): the standby takes over
        try await Self.waitFor(seconds: 5) { await tookOver.ids == ["b"] }
        try await standby.value
        #expect(await b.isStillLearner())
        // B's lock session is killed (a PostgreSQL restart, a dropped connection): B learns it is no longer the
        // learner, and another process can be.
        try await PostgresTestServer.execute("""
            SELECT pg_terminate_backend(pid) FROM pg_locks
            WHERE locktype = 'advisory' AND database = (SELECT oid FROM pg_database WHERE datname = '\(url.database)')
            """)
        try await Self.waitFor(seconds: 5) { await !b.isStillLearner() }
        let c = try await PostgresProximaStore.connect(url, maximumConnections: 2, logger: PostgresTestServer.logger)
        #expect(try await c.claimLearnerLock())
        await c.shutdown()
        await b.shutdown()
    }

    static func waitFor(seconds: Int = 2, _ condition: () async -> Bool, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        for _ in 0..<(seconds * 100) {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("not within \(seconds) s", sourceLocation: sourceLocation)
    }
}

/// The serving versions a follower read, in order.
private actor Seen {
    var ids: [String] = []
    func add(_ id: String) { ids.append(id) }
}
