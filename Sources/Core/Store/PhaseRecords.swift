// PhaseRecords: learner phases as the store keeps them — what started one, its configuration, its progress
// while it runs, and how it ended (which version it produced and whether that version was promoted).

import Foundation

// MARK: - Phase values

/// What started a phase.
public enum PhaseTrigger: String, Sendable, Hashable, Codable, CaseIterable {
    /// N new labelled pairs arrived.
    case pairs
    case schedule
    /// An operator's `POST /admin/phases`.
    case `operator`
    /// `proxima train` on a database or exported pairs.
    case offline
}

/// Where a phase is: queued → running → succeeded | rejected | failed | cancelled (queued → failed or
/// cancelled when it never started).
public enum PhaseStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case queued, running, succeeded, rejected, failed, cancelled

    /// Whether the phase has ended.
    public var isFinished: Bool { self == .succeeded || self == .rejected || self == .failed || self == .cancelled }
}

/// A learner phase.
public struct PhaseRecord: Sendable, Hashable {
    public var id: Int64
    public var trigger: PhaseTrigger
    public var status: PhaseStatus
    /// Loss, β, steps, learning rate, batch size, ensemble size, rank, reference mode, … as the learner wrote it.
    public var config: JSONObject
    /// The version it trains from (the serving one when it was created).
    public var baseVersion: String
    /// The candidate it produced (set when it succeeded or was rejected).
    public var resultVersion: String?
    /// How many labelled pairs it took (`recordPhasePairs`).
    public var pairsUsed: Int
    public var createdAt: Date
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The latest progress report while it runs (step, loss, reward accuracy, KL estimate, ETA, …).
    public var progress: JSONObject?
    /// Final numbers (training loss, the gate's win rate, …).
    public var metrics: JSONObject?
    /// Why it failed.
    public var error: String?

    public init(id: Int64, trigger: PhaseTrigger, status: PhaseStatus, config: JSONObject, baseVersion: String,
                resultVersion: String?, pairsUsed: Int, createdAt: Date, startedAt: Date?, finishedAt: Date?,
                progress: JSONObject?, metrics: JSONObject?, error: String?) {
        self.id = id
        self.trigger = trigger
        self.status = status
        self.config = config
        self.baseVersion = baseVersion
        self.resultVersion = resultVersion
        self.pairsUsed = pairsUsed
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.progress = progress
        self.metrics = metrics
        self.error = error
    }
}

/// What the learner hands over to queue a phase.
public struct PhaseDraft: Sendable, Hashable {
    public var trigger: PhaseTrigger
    public var config: JSONObject
    public var baseVersion: String
    public var createdAt: Date

    public init(trigger: PhaseTrigger, config: JSONObject, baseVersion: String, createdAt: Date) {
        self.trigger = trigger
        self.config = config
        self.baseVersion = baseVersion
        self.createdAt = createdAt
    }
}

/// How a phase ended. Each outcome is written in one transaction with the version change it implies,
/// so a crash never leaves a promoted version behind a running phase (or the reverse).
public enum PhaseOutcome: Sendable, Hashable {
    /// The candidate passed the gate: it becomes the serving version and the phase succeeded.
    case promoted(versionID: String, metrics: JSONObject?)
    /// The candidate was produced and left as a candidate for an operator to activate (offline training).
    case produced(versionID: String, metrics: JSONObject?)
    /// The candidate failed the gate: it is marked rejected and so is the phase.
    case rejected(versionID: String, metrics: JSONObject?)
    /// The phase failed before producing a usable candidate.
    case failed(error: String, metrics: JSONObject?)
    /// An operator stopped the phase (queued, or at its next chunk of training); `reason` says so.
    case cancelled(reason: String)

    package var status: PhaseStatus {
        switch self {
        case .promoted, .produced: .succeeded
        case .rejected: .rejected
        case .failed: .failed
        case .cancelled: .cancelled
        }
    }

    package var versionID: String? {
        switch self {
        case .promoted(let id, _), .produced(let id, _), .rejected(let id, _): id
        case .failed, .cancelled: nil
        }
    }

    package var metrics: JSONObject? {
        switch self {
        case .promoted(_, let metrics), .produced(_, let metrics), .rejected(_, let metrics), .failed(_, let metrics):
            metrics
        case .cancelled: nil
        }
    }

    /// The phase's `error`: why it failed or was cancelled.
    package var error: String? {
        switch self {
        case .failed(let error, _): error
        case .cancelled(let reason): reason
        default: nil
        }
    }
}

/// What `markInterruptedPhasesFailed` cleaned up after a crash.
public struct InterruptedPhases: Sendable, Hashable {
    /// Phases that were queued or running, now failed.
    public var failedPhaseIDs: [Int64]
    /// Candidates those phases had produced but not gated, now rejected.
    public var rejectedVersionIDs: [String]

    public init(failedPhaseIDs: [Int64], rejectedVersionIDs: [String]) {
        self.failedPhaseIDs = failedPhaseIDs
        self.rejectedVersionIDs = rejectedVersionIDs
    }
}
