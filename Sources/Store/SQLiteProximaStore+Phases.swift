// SQLiteProximaStore+Phases: learner phases in SQLite — queue, start, pairs taken, progress, the finishing
// transaction that also promotes or rejects the candidate, and the clean-up after a crash.

import Foundation
import ProximaCore
import GRDB

// MARK: - Phases

extension SQLiteProximaStore {
    static func fetchPhase(_ db: Database, id: Int64) throws -> PhaseRecord? {
        try Row.fetchOne(db, sql: "SELECT * FROM phases WHERE id = ?", arguments: [id]).map(StoreRows.phase)
    }

    private static func existingPhase(_ db: Database, id: Int64) throws -> PhaseRecord {
        guard let phase = try fetchPhase(db, id: id) else { throw StoreError.unknownPhase(id: id) }
        return phase
    }

    /// Rejects the candidates a phase produced that were never gated.
    private static func rejectCandidates(_ db: Database, ofPhases ids: [Int64]) throws -> [String] {
        guard !ids.isEmpty else { return [] }
        let filter = "phase_id IN (\(databaseQuestionMarks(count: ids.count))) AND status = 'candidate'"
        let versions = try String.fetchAll(db, sql: "SELECT id FROM policy_versions WHERE \(filter) ORDER BY rowid",
                                           arguments: StatementArguments(ids))
        try db.execute(sql: "UPDATE policy_versions SET status = 'rejected' WHERE \(filter)", arguments: StatementArguments(ids))
        return versions
    }

    public func createPhase(_ draft: PhaseDraft) async throws -> PhaseRecord {
        let config = try JSONText.encode(draft.config)
        return try await write("creating a phase") { db in
            guard try Self.fetchVersion(db, id: draft.baseVersion) != nil else {
                throw StoreError.unknownVersion(id: draft.baseVersion)
            }
            try db.execute(sql: """
                INSERT INTO phases (triggered_by, status, config, base_version, pairs_used, created_at)
                VALUES (?, 'queued', ?, ?, 0, ?)
                """, arguments: [draft.trigger.rawValue, config, draft.baseVersion, StoredTime.milliseconds(draft.createdAt)])
            return try Self.existingPhase(db, id: db.lastInsertedRowID)
        }
    }

    public func startPhase(id: Int64, at date: Date) async throws -> PhaseRecord {
        try await write("starting phase \(id)") { db in
            try StoreRules.checkTransition(try Self.existingPhase(db, id: id), allowed: [.queued], to: .running)
            try db.execute(sql: "UPDATE phases SET status = 'running', started_at = ? WHERE id = ?",
                           arguments: [StoredTime.milliseconds(date), id])
            return try Self.existingPhase(db, id: id)
        }
    }

    public func recordPhasePairs(phaseID: Int64, requestIDs: [String]) async throws {
        try await write("recording the pairs of phase \(phaseID)") { db in
            let phase = try Self.existingPhase(db, id: phaseID)
            guard phase.status == .queued || phase.status == .running else {
                throw StoreError.invalidTransition(what: "the pairs of phase \(phaseID)", from: phase.status.rawValue,
                                                   to: "changed", hint: "record pairs before the phase finishes")
            }
            let insert = try db.cachedStatement(sql: "INSERT OR IGNORE INTO phase_pairs (phase_id, request_id) VALUES (?, ?)")
            for requestID in requestIDs {
                guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM requests WHERE id = ?)", arguments: [requestID]) == true else {
                    throw StoreError.unknownResponse(id: requestID)
                }
                guard try Bool.fetchOne(db, sql: "SELECT EXISTS(SELECT 1 FROM feedback WHERE request_id = ?)", arguments: [requestID]) == true else {
                    throw StoreError.invalidRecord(what: "request \(requestID) has no verdict",
                                                   hint: "record the request ids of labelled pairs and rated responses")
                }
                try insert.execute(arguments: [phaseID, requestID])
            }
            try db.execute(sql: "UPDATE phases SET pairs_used = (SELECT COUNT(*) FROM phase_pairs WHERE phase_id = ?) WHERE id = ?",
                           arguments: [phaseID, phaseID])
        }
    }

    public func updatePhaseProgress(id: Int64, progress: JSONObject) async throws {
        let text = try JSONText.encode(progress)
        try await write("updating the progress of phase \(id)") { db in
            let phase = try Self.existingPhase(db, id: id)
            guard phase.status == .running else {
                throw StoreError.invalidTransition(what: "the progress of phase \(id)", from: phase.status.rawValue,
                                                   to: "updated", hint: "report progress only while the phase runs")
            }
            try db.execute(sql: "UPDATE phases SET progress = ? WHERE id = ?", arguments: [text, id])
        }
    }

    public func finishPhase(id: Int64, outcome: PhaseOutcome, at date: Date) async throws -> PhaseRecord {
        try StoreRules.checkFailure(outcome)
        let metrics = try outcome.metrics.map(JSONText.encode)
        return try await write("finishing phase \(id)") { db in
            let phase = try Self.existingPhase(db, id: id)
            try StoreRules.checkTransition(phase, allowed: StoreRules.statusesBefore(outcome), to: outcome.status)
            if let versionID = outcome.versionID {
                guard let version = try Self.fetchVersion(db, id: versionID) else {
                    throw StoreError.unknownVersion(id: versionID)
                }
                try StoreRules.checkOutcomeVersion(version, of: phase)
            }
            switch outcome {
            case .promoted(let versionID, _): _ = try Self.serve(db, id: versionID)
            case .produced: break
            case .rejected(let versionID, _): try Self.setStatus(db, version: versionID, to: .rejected)
            case .failed, .cancelled: _ = try Self.rejectCandidates(db, ofPhases: [id])
            }
            try db.execute(sql: """
                UPDATE phases SET status = ?, result_version = ?, finished_at = ?, metrics = ?, error = ? WHERE id = ?
                """, arguments: [outcome.status.rawValue, outcome.versionID, StoredTime.milliseconds(date), metrics, outcome.error, id])
            return try Self.existingPhase(db, id: id)
        }
    }

    public func phase(id: Int64) async throws -> PhaseRecord? {
        try await read("reading phase \(id)") { db in try Self.fetchPhase(db, id: id) }
    }

    public func phases() async throws -> [PhaseRecord] {
        try await read("listing phases") { db in
            try Row.fetchAll(db, sql: "SELECT * FROM phases ORDER BY id").map(StoreRows.phase)
        }
    }

    public func markInterruptedPhasesFailed(at date: Date) async throws -> InterruptedPhases {
        try await write("failing interrupted phases") { db in
            let ids = try Int64.fetchAll(db, sql: "SELECT id FROM phases WHERE status IN ('queued', 'running') ORDER BY id")
            let versions = try Self.rejectCandidates(db, ofPhases: ids)
            try db.execute(sql: """
                UPDATE phases SET status = 'failed', error = ?, finished_at = ? WHERE status IN ('queued', 'running')
                """, arguments: [StoreRules.interruptedPhaseError, StoredTime.milliseconds(date)])
            return InterruptedPhases(failedPhaseIDs: ids, rejectedVersionIDs: versions)
        }
    }
}
