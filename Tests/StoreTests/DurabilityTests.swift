// DurabilityTests: what a committed write leaves on disk. Data is visible after a clean reopen, to a second
// connection while the first is still open, and in a copy of the files taken without closing (what kill -9 leaves).

import Foundation
import GRDB
import ProximaCore
import Store
import Testing

// MARK: - Durability

@Suite("SQLite durability") struct DurabilityTests {
    /// Logs a pair, a verdict and a phase into the store, the way the server would before acknowledging.
    static func writeEverything(_ store: any ProximaStore) async throws {
        _ = try await store.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(0))
        try await Fixtures.log(store, "r1")
        _ = try await store.recordFeedback(Fixtures.thumb("r1", .down, event: "acknowledged"))
        _ = try await store.createPhase(PhaseDraft(trigger: .pairs, config: ["steps": 1], baseVersion: "v0",
                                                   createdAt: Fixtures.time(3)))
    }

    /// Expects everything `writeEverything` wrote.
    static func expectEverything(in store: any ProximaStore, sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let (request, samples) = Fixtures.request("r1")
        #expect(try await store.loggedRequest(id: "r1") == LoggedRequest(request: request, samples: samples),
                sourceLocation: sourceLocation)
        #expect(try await store.feedback(requestID: "r1").map(\.eventID) == ["acknowledged"], sourceLocation: sourceLocation)
        #expect(try await store.labelledPairs(.init()).map(\.chosen.index) == [1], sourceLocation: sourceLocation)
        #expect(try await store.phases().map(\.status) == [.queued], sourceLocation: sourceLocation)
        #expect(try await store.servingVersion()?.id == "v0", sourceLocation: sourceLocation)
    }

    @Test func dataSurvivesCloseAndReopen() async throws {
        let folder = TempFolder()
        let path = folder.path("proxima.sqlite")
        let first = try AppDatabase.open(path: path)
        try await Self.writeEverything(SQLiteProximaStore(database: first))
        try first.close()
        // Closing checkpointed the WAL into the main file: nothing is left to replay.
        let walSize = (try? FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int) ?? 0
        #expect(walSize == 0)

        let reopened = try AppDatabase.open(path: path)
        try await Self.expectEverything(in: SQLiteProximaStore(database: reopened))
    }

    @Test func aSecondConnectionSeesCommittedWritesBeforeAnyCheckpoint() async throws {
        let folder = TempFolder()
        let path = folder.path("proxima.sqlite")
        let writer = try AppDatabase.open(path: path)
        try await Self.writeEverything(SQLiteProximaStore(database: writer))

        let other = try AppDatabase.open(path: path)  // another process opening the file, e.g. after a restart
        try await Self.expectEverything(in: SQLiteProximaStore(database: other))
        try other.close()
        try writer.close()
    }

    @Test func theFilesLeftByAKilledProcessHoldEveryCommittedWrite() async throws {
        let folder = TempFolder()
        let path = folder.path("proxima.sqlite")
        let live = try AppDatabase.open(path: path)
        try await Self.writeEverything(SQLiteProximaStore(database: live))
        // Without closing (no checkpoint, no clean shutdown), take the files as a kill -9 would leave them.
        #expect(FileManager.default.fileExists(atPath: path + "-wal"))
        let walSize = try #require(try FileManager.default.attributesOfItem(atPath: path + "-wal")[.size] as? Int)
        #expect(walSize > 0, "the committed transactions should still be in the WAL")
        let crashed = folder.path("crashed.sqlite")
        try FileManager.default.copyItem(atPath: path, toPath: crashed)
        try FileManager.default.copyItem(atPath: path + "-wal", toPath: crashed + "-wal")

        let recovered = SQLiteProximaStore(database: try AppDatabase.open(path: crashed))
        try await Self.expectEverything(in: recovered)
        _ = try await recovered.markInterruptedPhasesFailed(at: Fixtures.time(4))
        #expect(try await recovered.phases().map(\.status) == [.failed])
        try live.close()
    }
}
