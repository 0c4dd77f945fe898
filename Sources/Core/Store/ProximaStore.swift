// ProximaStore: the persistence seam of the service — requests and their samples, feedback, policy
// versions and learner phases. SQLite implements it today; PostgreSQL goes here for several serving replicas.

import Foundation

// MARK: - The store protocol

/// Everything the service persists. Every write is one transaction: when a method returns, its data is
/// committed (and survives a kill -9 of the process); when it throws, nothing was written.
/// Times are kept to the millisecond. Implementations: `SQLiteProximaStore`, `InMemoryProximaStore`.
public protocol ProximaStore: Sendable {
    // MARK: Requests

    /// Logs a request and its samples together (the server returns the response only after this).
    /// Samples are indexed 0..<count (1 or 2); a request has a pair id exactly when it has two samples;
    /// samples below `n` are shown, the others hidden.
    func logRequest(_ request: RequestRecord, samples: [SampleRecord]) async throws
    /// A logged request and its samples, or nil.
    func loggedRequest(id: String) async throws -> LoggedRequest?
    /// The logged request whose samples form pair `pairID`, or nil.
    func loggedRequest(pairID: String) async throws -> LoggedRequest?
    /// The latest request logged with this client reference, with its samples.
    func loggedRequest(clientRef: String) async throws -> LoggedRequest?

    // MARK: Policy versions

    /// Creates the base version (status serving if nothing serves yet) unless it exists; throws
    /// `baseModelMismatch` when the database belongs to another base model. Returns the serving version.
    func ensureBaseVersion(id: String, baseModelSHA256: String, at date: Date) async throws -> PolicyVersionRecord
    /// Adds a candidate with the next free id ("v<N+1>") and its parent's base model hash.
    func insertCandidate(_ candidate: CandidateVersion) async throws -> PolicyVersionRecord
    /// Serves `id` (promote a candidate or roll back to a retired version), retiring the one serving before,
    /// atomically. Serving a rejected version is refused; serving the serving version changes nothing.
    func setServing(_ id: String) async throws -> ServingChange
    /// Marks a candidate rejected (only candidates can be; rejecting a rejected version changes nothing).
    func markRejected(_ id: String) async throws -> PolicyVersionRecord
    /// All versions, oldest first.
    func policyVersions() async throws -> [PolicyVersionRecord]
    /// The version serving now (nil before `ensureBaseVersion`).
    func servingVersion() async throws -> PolicyVersionRecord?
    func policyVersion(id: String) async throws -> PolicyVersionRecord?

    // MARK: Feedback

    /// Stores a feedback event once per event id: a retry with the same content is `.duplicate`, the same
    /// id with different content throws `feedbackConflict`; unknown ids throw `unknownResponse` / `unknownPair`.
    /// A later, different verdict on the same pair is a new event, and the latest event is the one training uses.
    func recordFeedback(_ event: FeedbackEvent) async throws -> FeedbackOutcome
    /// Logs requests, each with its samples and one feedback event about it, in one transaction (a pairs
    /// import): either all of them are stored or, when one is refused, none.
    func importLabelledRequests(_ entries: [LabelledRequest]) async throws
    /// The feedback events of a request, oldest first.
    func feedback(requestID: String) async throws -> [FeedbackRecord]
    /// Labelled pairs (see `LabelledPairQuery` for what counts), oldest verdict first: what a phase trains on,
    /// and with `unusedOnly: false` what the TRL-compatible export writes (messages, texts, behavior log-probs).
    func labelledPairs(_ query: LabelledPairQuery) async throws -> [LabelledPair]
    /// How many pairs `labelledPairs(query)` would return without its limit (the N-new-pairs trigger).
    func countLabelledPairs(_ query: LabelledPairQuery) async throws -> Int
    /// Responses rated by a thumb (the latest event of their request), oldest verdict first: what KTO trains on
    /// besides pairs labelled by a choice. The query's `choicesOnly` does not apply.
    func ratedResponses(_ query: LabelledPairQuery) async throws -> [RatedResponse]
    /// How many responses `ratedResponses(query)` would return without its limit.
    func countRatedResponses(_ query: LabelledPairQuery) async throws -> Int
    /// Completed pairs (two samples, neither cancelled, different token sequences) with no feedback at all,
    /// oldest first.
    func unlabelledPairs(limit: Int) async throws -> [UnlabelledPair]
    /// Requests, feedback and labelled pairs per bucket of `bucketSeconds` (aligned to multiples of it since
    /// 1970), from `since` on; only buckets where something happened, oldest first.
    func activity(since: Date, bucketSeconds: Int) async throws -> [ActivityBucket]

    // MARK: Phases

    /// Queues a phase on an existing base version.
    func createPhase(_ draft: PhaseDraft) async throws -> PhaseRecord
    /// queued → running.
    func startPhase(id: Int64, at date: Date) async throws -> PhaseRecord
    /// Records the labelled pairs and rated responses (request ids, each with a verdict) a queued or running phase
    /// takes, and sets its `pairsUsed`.
    func recordPhasePairs(phaseID: Int64, requestIDs: [String]) async throws
    /// Replaces the progress report of a running phase.
    func updatePhaseProgress(id: Int64, progress: JSONObject) async throws
    /// Ends a queued or running phase with its outcome and the version change it implies, in one transaction.
    /// The outcome's version must be a candidate produced by this phase.
    func finishPhase(id: Int64, outcome: PhaseOutcome, at date: Date) async throws -> PhaseRecord
    func phase(id: Int64) async throws -> PhaseRecord?
    /// All phases, oldest first.
    func phases() async throws -> [PhaseRecord]
    /// At startup: every queued or running phase was interrupted by a crash; marks it failed (saying so)
    /// and rejects the candidates it produced.
    func markInterruptedPhasesFailed(at date: Date) async throws -> InterruptedPhases

    // MARK: Health

    /// Throws unless a write transaction commits (for `/ready`).
    func checkWritable() async throws
}

extension ProximaStore {
    /// `ensureBaseVersion` with the conventional id `PolicyVersionRecord.initialID` ("v0").
    public func ensureBaseVersion(baseModelSHA256: String, at date: Date) async throws -> PolicyVersionRecord {
        try await ensureBaseVersion(id: PolicyVersionRecord.initialID, baseModelSHA256: baseModelSHA256, at: date)
    }
}
