// PhaseBehaviourTests: the learner phase lifecycle, the finishing transaction that promotes or rejects the
// candidate, the clean-up after a crash, and the health check — run on every store implementation.

import Foundation
import ProximaCore
import Store
import Testing

// MARK: - Phases

@Suite("Phases") struct PhaseBehaviourTests {
    let folder = TempFolder()

    static let config: JSONObject = ["loss": "dpo", "beta": 0.1, "steps": 100, "lr": 2e-4, "ensemble_size": 5,
                                     "rank": 16, "reference": "behavior", "targets": ["q", "v"], "warmup": nil]

    static func queued(_ store: any ProximaStore, at seconds: Double = 1) async throws -> PhaseRecord {
        try await store.createPhase(PhaseDraft(trigger: .operator, config: config, baseVersion: "v0",
                                               createdAt: Fixtures.time(seconds)))
    }

    @Test(arguments: StoreKind.allCases)
    func aPromotedPhaseServesItsCandidate(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let queued = try await Self.queued(store)
        #expect(queued.status == .queued && queued.trigger == .operator && queued.config == Self.config)
        #expect(queued.pairsUsed == 0 && queued.startedAt == nil && queued.resultVersion == nil)

        let running = try await store.startPhase(id: queued.id, at: Fixtures.time(2))
        #expect(running.status == .running && running.startedAt == Fixtures.time(2))
        try await store.updatePhaseProgress(id: queued.id, progress: ["step": 10, "loss": 0.69])
        try await store.updatePhaseProgress(id: queued.id, progress: ["step": 20, "loss": 0.61, "eta_seconds": 40])
        #expect(try await store.phase(id: queued.id)?.progress == ["step": 20, "loss": 0.61, "eta_seconds": 40])

        let candidate = try await store.insertCandidate(Fixtures.candidate(phase: queued.id))
        let finished = try await store.finishPhase(id: queued.id, outcome: .promoted(versionID: candidate.id,
                                                                                      metrics: ["win_rate": 0.7]),
                                                   at: Fixtures.time(3))
        #expect(finished.status == .succeeded && finished.resultVersion == "v1" && finished.finishedAt == Fixtures.time(3))
        #expect(finished.metrics == ["win_rate": 0.7] && finished.error == nil)
        #expect(try await store.servingVersion()?.id == "v1")
        #expect(try await store.policyVersion(id: "v0")?.status == .retired)
        #expect(try await store.phases() == [finished])
    }

    @Test(arguments: StoreKind.allCases)
    func producedRejectedAndFailedPhasesLeaveTheServingVersion(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        var ids: [Int64] = []
        var candidates: [String] = []
        for index in 0..<3 {
            let phase = try await Self.queued(store, at: Double(index))
            _ = try await store.startPhase(id: phase.id, at: Fixtures.time(10))
            ids.append(phase.id)
            candidates.append(try await store.insertCandidate(Fixtures.candidate(phase: phase.id, tag: "\(index)".first!)).id)
        }
        let produced = try await store.finishPhase(id: ids[0], outcome: .produced(versionID: candidates[0], metrics: nil),
                                                   at: Fixtures.time(11))
        let rejected = try await store.finishPhase(id: ids[1], outcome: .rejected(versionID: candidates[1],
                                                                                  metrics: ["win_rate": 0.4]),
                                                   at: Fixtures.time(11))
        let failed = try await store.finishPhase(id: ids[2], outcome: .failed(error: "NaN loss at step 7", metrics: nil),
                                                 at: Fixtures.time(11))
        #expect([produced.status, rejected.status, failed.status] == [.succeeded, .rejected, .failed])
        #expect(failed.error == "NaN loss at step 7" && failed.resultVersion == nil)
        #expect(try await store.policyVersions().map(\.status) == [.serving, .candidate, .rejected, .rejected])
    }

    @Test(arguments: StoreKind.allCases)
    func phasesMoveForwardOnly(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let phase = try await Self.queued(store)
        let other = try await Self.queued(store)
        await expectStoreError(.invalidTransition(what: "the progress of phase \(phase.id)", from: "queued", to: "updated", hint: "")) {
            try await store.updatePhaseProgress(id: phase.id, progress: ["step": 1])
        }
        let candidate = try await store.insertCandidate(Fixtures.candidate(phase: phase.id))
        await expectStoreError(.invalidTransition(what: "phase \(phase.id)", from: "queued", to: "succeeded", hint: "")) {
            try await store.finishPhase(id: phase.id, outcome: .promoted(versionID: candidate.id, metrics: nil), at: Fixtures.time(2))
        }
        _ = try await store.startPhase(id: phase.id, at: Fixtures.time(2))
        await expectStoreError(.invalidTransition(what: "phase \(phase.id)", from: "running", to: "running", hint: "")) {
            try await store.startPhase(id: phase.id, at: Fixtures.time(3))
        }
        _ = try await store.startPhase(id: other.id, at: Fixtures.time(2))
        await expectInvalidRecord {
            try await store.finishPhase(id: other.id, outcome: .promoted(versionID: candidate.id, metrics: nil), at: Fixtures.time(3))
        }
        await expectInvalidRecord {
            try await store.finishPhase(id: phase.id, outcome: .promoted(versionID: "v0", metrics: nil), at: Fixtures.time(3))
        }
        await expectInvalidRecord {
            try await store.finishPhase(id: phase.id, outcome: .failed(error: "", metrics: nil), at: Fixtures.time(3))
        }
        _ = try await store.finishPhase(id: phase.id, outcome: .promoted(versionID: candidate.id, metrics: nil), at: Fixtures.time(3))
        await expectStoreError(.invalidTransition(what: "phase \(phase.id)", from: "succeeded", to: "failed", hint: "")) {
            try await store.finishPhase(id: phase.id, outcome: .failed(error: "late", metrics: nil), at: Fixtures.time(4))
        }
        await expectStoreError(.invalidTransition(what: "the pairs of phase \(phase.id)", from: "succeeded", to: "changed", hint: "")) {
            try await store.recordPhasePairs(phaseID: phase.id, requestIDs: [])
        }
        await expectStoreError(.unknownPhase(id: 99)) { try await store.startPhase(id: 99, at: Fixtures.time(4)) }
        await expectStoreError(.unknownVersion(id: "v8")) {
            try await store.createPhase(PhaseDraft(trigger: .schedule, config: [:], baseVersion: "v8", createdAt: Fixtures.time(4)))
        }
        #expect(try await store.servingVersion()?.id == candidate.id)
    }

    @Test(arguments: StoreKind.allCases)
    func interruptedPhasesAreMarkedFailedAtStartup(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let done = try await Self.queued(store)
        _ = try await store.startPhase(id: done.id, at: Fixtures.time(2))
        _ = try await store.finishPhase(id: done.id, outcome: .failed(error: "earlier", metrics: nil), at: Fixtures.time(2))
        let running = try await Self.queued(store)
        _ = try await store.startPhase(id: running.id, at: Fixtures.time(3))
        let halfway = try await store.insertCandidate(Fixtures.candidate(phase: running.id))
        let queued = try await Self.queued(store)

        let cleaned = try await store.markInterruptedPhasesFailed(at: Fixtures.time(9))
        #expect(cleaned.failedPhaseIDs == [running.id, queued.id])
        #expect(cleaned.rejectedVersionIDs == [halfway.id])
        let phases = try await store.phases()
        #expect(phases.map(\.status) == [.failed, .failed, .failed])
        #expect(phases[0].error == "earlier")
        #expect(phases[1].error?.contains("interrupted") == true && phases[2].finishedAt == Fixtures.time(9))
        #expect(try await store.servingVersion()?.id == "v0")
        #expect(try await store.markInterruptedPhasesFailed(at: Fixtures.time(10)) .failedPhaseIDs.isEmpty)
    }

    /// A learner's own configuration type, stored as the phase's JSON config.
    struct LearnerConfig: Codable, Equatable {
        var loss = "ipo"
        var beta = 0.05
        var steps = 3
        var targets = ["q", "k"]
        var seed: UInt64? = nil
    }

    @Test(arguments: StoreKind.allCases)
    func aCodableConfigRoundTripsThroughThePhase(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        guard case .object(let config) = try JSONValue(encoding: LearnerConfig(seed: 7)) else {
            Issue.record("a struct should encode as a JSON object")
            return
        }
        let phase = try await store.createPhase(PhaseDraft(trigger: .offline, config: config, baseVersion: "v0",
                                                           createdAt: Fixtures.time(1)))
        let stored = try #require(try await store.phase(id: phase.id))
        #expect(try JSONValue.object(stored.config).decode(as: LearnerConfig.self) == LearnerConfig(seed: 7))
    }

    @Test(arguments: StoreKind.allCases)
    func aWritableStorePassesTheHealthCheck(kind: StoreKind) async throws {
        let store = try await kind.make(in: folder)
        try await store.checkWritable()
        try await store.checkWritable()
    }
}

// MARK: - Cancellation (schema v2)

@Suite("Cancelled phases") struct CancelledPhaseTests {
    let folder = TempFolder()

    /// A queued or running phase can be cancelled with a reason; it ends, its candidates are rejected and the
    /// pairs it took count as unused again; an ended phase cannot be.
    @Test(arguments: StoreKind.allCases)
    func cancellingEndsAPhaseAndFreesItsPairs(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "a")
        _ = try await store.recordFeedback(Fixtures.choice("pair-a", .first))
        let queued = try await PhaseBehaviourTests.queued(store)
        let cancelled = try await store.finishPhase(id: queued.id, outcome: .cancelled(reason: "cancelled while queued"), at: Fixtures.time(2))
        #expect(cancelled.status == .cancelled && cancelled.error == "cancelled while queued" && cancelled.finishedAt == Fixtures.time(2))
        #expect(cancelled.status.isFinished)

        let running = try await PhaseBehaviourTests.queued(store)
        _ = try await store.startPhase(id: running.id, at: Fixtures.time(3))
        try await store.recordPhasePairs(phaseID: running.id, requestIDs: ["a"])
        #expect(try await store.countLabelledPairs(LabelledPairQuery()) == 0, "a running phase uses its pairs")
        let candidate = try await store.insertCandidate(Fixtures.candidate(phase: running.id))
        _ = try await store.finishPhase(id: running.id, outcome: .cancelled(reason: "stopped"), at: Fixtures.time(4))
        #expect(try await store.countLabelledPairs(LabelledPairQuery()) == 1, "a cancelled phase's pairs are free again")
        #expect(try await store.policyVersion(id: candidate.id)?.status == .rejected)

        await expectStoreError(.invalidTransition(what: "phase \(running.id)", from: "cancelled", to: "cancelled",
                                                  hint: "a phase goes queued → running → succeeded, rejected, failed or cancelled, once")) {
            try await store.finishPhase(id: running.id, outcome: .cancelled(reason: "again"), at: Fixtures.time(5))
        }
        let other = try await PhaseBehaviourTests.queued(store)
        await expectInvalidRecord { try await store.finishPhase(id: other.id, outcome: .cancelled(reason: ""), at: Fixtures.time(5)) }
    }

    /// A database of the first schema (v1) is upgraded on open: its phases and their pairs stay, and phases can
    /// then be cancelled.
    @Test func aVersionOneDatabaseUpgrades() async throws {
        #expect(AppDatabase.migrations == ["v1", "v2", "v3"])
        let path = folder.path("old.sqlite")
        do {
            let old = try AppDatabase.open(path: path, upTo: "v1")
            let store = SQLiteProximaStore(database: old)
            _ = try await store.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(0))
            // Today's store writes columns v1 lacks (client_ref), so the request goes in as v1's code wrote it.
            try await old.writer.write { db in
                try db.execute(sql: """
                    INSERT INTO requests (id, pair_id, created_at, api_key_id, policy_version, messages, prompt_token_ids, sampling, n, stream, status)
                    VALUES ('a', 'pair-a', 1750000001000, NULL, 'v0', '[{"role":"user","content":"Hi"}]', X'01000000', '{}', 1, 0, 'completed');
                    INSERT INTO samples (request_id, sample_index, token_ids, logprobs, text, finish_reason, shown)
                    VALUES ('a', 0, X'11000000', X'00000000', 'x', 'stop', 1), ('a', 1, X'12000000', X'00000000', 'y', 'stop', 0);
                    """)
            }
            _ = try await store.recordFeedback(Fixtures.choice("pair-a", .first))
            let failed = try await PhaseBehaviourTests.queued(store)
            _ = try await store.startPhase(id: failed.id, at: Fixtures.time(2))
            try await store.recordPhasePairs(phaseID: failed.id, requestIDs: ["a"])
            _ = try await store.finishPhase(id: failed.id, outcome: .failed(error: "boom", metrics: nil), at: Fixtures.time(3))
            _ = try await PhaseBehaviourTests.queued(store)
            try old.close()
        }
        let upgraded = SQLiteProximaStore(database: try AppDatabase.open(path: path))
        let phases = try await upgraded.phases()
        #expect(phases.map(\.status) == [.failed, .queued])
        #expect(phases[0].error == "boom" && phases[0].pairsUsed == 1 && phases[0].config == PhaseBehaviourTests.config)
        let cancelled = try await upgraded.finishPhase(id: phases[1].id, outcome: .cancelled(reason: "by hand"), at: Fixtures.time(4))
        #expect(cancelled.status == .cancelled)
        let next = try await PhaseBehaviourTests.queued(upgraded)
        #expect(next.id == phases[1].id + 1, "ids continue after the upgrade")
        #expect(try await upgraded.loggedRequest(clientRef: "a") == nil, "v3: requests logged before have no client reference")
    }
}
