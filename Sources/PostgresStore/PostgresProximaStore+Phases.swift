// PostgresProximaStore+Phases: learner phases in PostgreSQL — queue, start, pairs taken, progress, the finishing
// transaction that also promotes or rejects the candidate, and the clean-up after a crash.

import Foundation
import PostgresNIO
import ProximaCore

// MARK: - Phases

extension PostgresProximaStore {
    static func fetchPhase(_ db: Transaction, id: Int64) async throws -> PhaseRecord? {
        try await db.rows("SELECT * FROM phases WHERE id = \(id)").first.map(StoreRows.phase)
    }

    private static func existingPhase(_ db: Transaction, id: Int64) async throws -> PhaseRecord {
        guard let phase = try await fetchPhase(db, id: id) else { throw StoreError.unknownPhase(id: id) }
        return phase
    }

    /// Rejects the candidates the phases produced that were never gated.
    private static func rejectCandidates(_ db: Transaction, ofPhases ids: [Int64]) async throws -> [String] {
        guard !ids.isEmpty else { return [] }
        return try await db.rows("""
            UPDATE policy_versions SET status = 'rejected' WHERE phase_id = ANY(\(ids)) AND status = 'candidate'
            RETURNING id, seq
            """).map { (try $0.value("seq", in: "policy_versions") as Int64, try $0.value("id", in: "policy_versions") as String) }
            .sorted { $0.0 < $1.0 }.map(\.1)
    }

    public func createPhase(_ draft: PhaseDraft) async throws -> PhaseRecord {
        let config = try JSONText.encode(draft.config)
        return try await write("creating a phase") { db in
            guard try await Self.fetchVersion(db, id: draft.baseVersion) != nil else {
                throw StoreError.unknownVersion(id: draft.baseVersion)
            }
            let rows = try await db.rows("""
                INSERT INTO phases (triggered_by, status, config, base_version, pairs_used, created_at)
                VALUES (\(draft.trigger.rawValue), 'queued', \(config), \(draft.baseVersion), 0, \(StoredTime.milliseconds(draft.createdAt)))
                RETURNING *
                """)
            guard let row = rows.first else { throw StoreError.database(message: "creating a phase: no row returned") }
            try await Self.notify(db, .learnerWork)
            return try StoreRows.phase(row)
        }
    }

    public func startPhase(id: Int64, at date: Date) async throws -> PhaseRecord {
        try await write("starting phase \(id)") { db in
            try StoreRules.checkTransition(try await Self.existingPhase(db, id: id), allowed: [.queued], to: .running)
            try await db.execute("UPDATE phases SET status = 'running', started_at = \(StoredTime.milliseconds(date)) WHERE id = \(id)")
            return try await Self.existingPhase(db, id: id)
        }
    }

    public func recordPhasePairs(phaseID: Int64, requestIDs: [String]) async throws {
        try await write("recording the pairs of phase \(phaseID)") { db in
            let phase = try await Self.existingPhase(db, id: phaseID)
            guard phase.status == .queued || phase.status == .running else {
                throw StoreError.invalidTransition(what: "the pairs of phase \(phaseID)", from: phase.status.rawValue,
                                                   to: "changed", hint: "record pairs before the phase finishes")
            }
            for requestID in requestIDs {
                guard try await db.exists("SELECT 1 FROM requests WHERE id = \(requestID)") else {
                    throw StoreError.unknownResponse(id: requestID)
                }
                guard try await db.exists("SELECT 1 FROM feedback WHERE request_id = \(requestID)") else {
                    throw StoreError.invalidRecord(what: "request \(requestID) has no verdict",
                                                   hint: "record the request ids of labelled pairs and rated responses")
                }
                try await db.execute("""
                    INSERT INTO phase_pairs (phase_id, request_id) VALUES (\(phaseID), \(requestID)) ON CONFLICT DO NOTHING
                    """)
            }
            try await db.execute("""
                UPDATE phases SET pairs_used = (SELECT COUNT(*) FROM phase_pairs WHERE phase_id = \(phaseID)) WHERE id = \(phaseID)
                """)
        }
    }

    public func updatePhaseProgress(id: Int64, progress: JSONObject) async throws {
        let text = try JSONText.encode(progress)
        try await write("updating the progress of phase \(id)") { db in
            let phase = try await Self.existingPhase(db, id: id)
            guard phase.status == .running else {
                throw StoreError.invalidTransition(what: "the progress of phase \(id)", from: phase.status.rawValue,
                                                   to: "updated", hint: "report progress only while the phase runs")
            }
            try await db.execute("UPDATE phases SET progress = \(text) WHERE id = \(id)")
        }
    }

    public func finishPhase(id: Int64, outcome: PhaseOutcome, at date: Date) async throws -> PhaseRecord {
        try StoreRules.checkFailure(outcome)
        let metrics = try outcome.metrics.map(JSONText.encode)
        return try await write("finishing phase \(id)") { db in
            let phase = try await Self.existingPhase(db, id: id)
            try StoreRules.checkTransition(phase, allowed: StoreRules.statusesBefore(outcome), to: outcome.status)
            if let versionID = outcome.versionID {
                guard let version = try await Self.fetchVersion(db, id: versionID) else {
                    throw StoreError.unknownVersion(id: versionID)
                }
                try StoreRules.checkOutcomeVersion(version, of: phase)
            }
            switch outcome {
            case .promoted(let versionID, _): _ = try await Self.serve(db, id: versionID)
            case .produced: break
            case .rejected(let versionID, _): try await Self.setStatus(db, version: versionID, to: .rejected)
            case .failed, .cancelled: _ = try await Self.rejectCandidates(db, ofPhases: [id])
            }
            try await db.execute("""
                UPDATE phases SET status = \(outcome.status.rawValue), result_version = \(outcome.versionID),
                                  finished_at = \(StoredTime.milliseconds(date)), metrics = \(metrics), error = \(outcome.error)
                WHERE id = \(id)
                """)
            return try await Self.existingPhase(db, id: id)
        }
    }

    public func phase(id: Int64) async throws -> PhaseRecord? {
        try await read("reading phase \(id)") { db in try await Self.fetchPhase(db, id: id) }
    }

    public func phases() async throws -> [PhaseRecord] {
        try await read("listing phases") { db in
            try await db.rows("SELECT * FROM phases ORDER BY id").map(StoreRows.phase)
        }
    }

    public func markInterruptedPhasesFailed(at date: Date) async throws -> InterruptedPhases {
        try await write("failing interrupted phases") { db in
            let ids = try await db.rows("SELECT id FROM phases WHERE status IN ('queued', 'running') ORDER BY id")
                .map { try $0.value("id", in: "phases") as Int64 }
            let versions = try await Self.rejectCandidates(db, ofPhases: ids)
            try await db.execute("""
                UPDATE phases SET status = 'failed', error = \(StoreRules.interruptedPhaseError),
                                  finished_at = \(StoredTime.milliseconds(date))
                WHERE status IN ('queued', 'running')
                """)
            return InterruptedPhases(failedPhaseIDs: ids, rejectedVersionIDs: versions)
        }
    }
}
