// InMemoryProximaStore: the in-memory twin of SQLiteProximaStore for tests of the layers above. Same
// checks (StoreRules), same errors, same orderings; every method validates before it changes anything.

import Foundation

// MARK: - Store

/// A `ProximaStore` held in memory by an actor. Each method runs without suspending, so it is atomic.
public actor InMemoryProximaStore: ProximaStore, StoreNotifications {
    private var versions: [PolicyVersionRecord] = []
    private var requests: [String: LoggedRequest] = [:]
    private var requestOrder: [String] = []
    private var requestIDByPairID: [String: String] = [:]
    private var feedbackEvents: [FeedbackRecord] = []
    private var phaseRecords: [PhaseRecord] = []
    private var phasePairs: [Int64: Set<String>] = [:]
    private var processes: [String: ProcessRecord] = [:]

    public init() {}

    // MARK: Requests

    public func logRequest(_ request: RequestRecord, samples: [SampleRecord]) throws {
        try StoreRules.validate(request, samples: samples)
        guard versionIndex(request.policyVersion) != nil else { throw StoreError.unknownVersion(id: request.policyVersion) }
        guard requests[request.id] == nil else { throw StoreError.duplicateRequest(id: request.id) }
        if let pairID = request.pairID, requestIDByPairID[pairID] != nil { throw StoreError.duplicateRequest(id: pairID) }
        var stored = request
        stored.createdAt = StoredTime.normalized(request.createdAt)
        requests[request.id] = LoggedRequest(request: stored, samples: samples)
        requestOrder.append(request.id)
        if let pairID = request.pairID { requestIDByPairID[pairID] = request.id }
        if samples.count == 2 { notify(.learnerWork) }
    }

    public func loggedRequest(id: String) -> LoggedRequest? { requests[id] }

    public func loggedRequest(pairID: String) -> LoggedRequest? { requestIDByPairID[pairID].flatMap { requests[$0] } }

    public func loggedRequest(clientRef: String) -> LoggedRequest? {
        requestOrder.last { requests[$0]?.request.clientRef == clientRef }.flatMap { requests[$0] }
    }

    public func importLabelledRequests(_ entries: [LabelledRequest]) throws {
        // Applied one by one on a copy of the state, which is put back when one is refused.
        let saved = (requests, requestOrder, requestIDByPairID, feedbackEvents)
        do {
            for entry in entries {
                try logRequest(entry.request, samples: entry.samples)
                _ = try recordFeedback(entry.feedback)
            }
        } catch {
            (requests, requestOrder, requestIDByPairID, feedbackEvents) = saved
            throw error
        }
    }

    // MARK: Policy versions

    private func versionIndex(_ id: String) -> Int? { versions.firstIndex { $0.id == id } }
    private var servingIndex: Int? { versions.firstIndex { $0.status == .serving } }

    private func existingVersionIndex(_ id: String) throws -> Int {
        guard let index = versionIndex(id) else { throw StoreError.unknownVersion(id: id) }
        return index
    }

    /// Retires the serving version and serves `id` (after the checks, so a refusal changes nothing).
    private func serve(_ id: String) throws -> ServingChange {
        let target = try existingVersionIndex(id)
        try StoreRules.checkServable(versions[target])
        let previous = servingIndex
        if previous == target { return ServingChange(serving: versions[target], retired: nil) }
        if let previous { versions[previous].status = .retired }
        versions[target].status = .serving
        notify(.servingVersion)
        return ServingChange(serving: versions[target], retired: previous.map { versions[$0] })
    }

    // MARK: Serving-version notifications (the twin of PostgreSQL's LISTEN/NOTIFY)

    private var watchers: [StoreTopic: [UUID: AsyncStream<Void>.Continuation]] = [:]

    private func notify(_ topic: StoreTopic) {
        for watcher in watchers[topic, default: [:]].values { watcher.yield() }
    }

    public func follow(_ topic: StoreTopic, _ onChange: @escaping @Sendable () async -> Void) async {
        let (changes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = UUID()
        watchers[topic, default: [:]][id] = continuation
        await withTaskCancellationHandler {
            await onChange()
            for await _ in changes { await onChange() }
        } onCancel: {
            continuation.finish()
        }
        watchers[topic]?[id] = nil
    }

    public func ensureBaseVersion(id: String, baseModelSHA256: String, at date: Date) throws -> PolicyVersionRecord {
        try StoreRules.checkSHA256(baseModelSHA256, what: "the base model")
        if let stored = versions.first?.baseModelSHA256, stored != baseModelSHA256 {
            throw StoreError.baseModelMismatch(stored: stored, given: baseModelSHA256)
        }
        if versionIndex(id) == nil {
            versions.append(PolicyVersionRecord(id: id, parent: nil, createdAt: StoredTime.normalized(date),
                                                status: servingIndex == nil ? .serving : .retired, adapter: nil,
                                                state: nil, phaseID: nil, baseModelSHA256: baseModelSHA256, metrics: nil))
        }
        guard let serving = servingIndex else { return try serve(id).serving }
        return versions[serving]
    }

    public func insertCandidate(_ candidate: CandidateVersion) throws -> PolicyVersionRecord {
        try StoreRules.validate(candidate)
        let parent = versions[try existingVersionIndex(candidate.parent)]
        if let phaseID = candidate.phaseID, phaseIndex(phaseID) == nil { throw StoreError.unknownPhase(id: phaseID) }
        let version = PolicyVersionRecord(id: StoreRules.nextVersionID(after: versions.map(\.id)), parent: parent.id,
                                          createdAt: StoredTime.normalized(candidate.createdAt), status: .candidate,
                                          adapter: candidate.adapter, state: candidate.state, phaseID: candidate.phaseID,
                                          baseModelSHA256: parent.baseModelSHA256, metrics: candidate.metrics)
        versions.append(version)
        notify(.servingVersion)
        return version
    }

    public func setServing(_ id: String) throws -> ServingChange { try serve(id) }

    public func markRejected(_ id: String) throws -> PolicyVersionRecord {
        let index = try existingVersionIndex(id)
        try StoreRules.checkRejectable(versions[index])
        versions[index].status = .rejected
        return versions[index]
    }

    public func policyVersions() -> [PolicyVersionRecord] { versions }
    public func servingVersion() -> PolicyVersionRecord? { servingIndex.map { versions[$0] } }
    public func policyVersion(id: String) -> PolicyVersionRecord? { versionIndex(id).map { versions[$0] } }

    // MARK: Feedback

    public func recordFeedback(_ event: FeedbackEvent) throws -> FeedbackOutcome {
        let eventID = try StoreRules.eventID(for: event)
        let request: LoggedRequest
        switch event.subject {
        case .thumb(let responseID, _, _):
            guard let found = requests[responseID] else { throw StoreError.unknownResponse(id: responseID) }
            request = found
        case .choice(let pairID, _):
            guard let found = requestIDByPairID[pairID].flatMap({ requests[$0] }) else { throw StoreError.unknownPair(id: pairID) }
            request = found
        }
        var record = try StoreRules.record(for: event, id: 0, eventID: eventID,
                                           requestID: request.request.id, sampleCount: request.samples.count)
        if let existing = feedbackEvents.first(where: { $0.eventID == eventID }) {
            guard existing.hasSameContent(as: record) else { throw StoreError.feedbackConflict(eventID: eventID) }
            return .duplicate(existing)
        }
        record.id = Int64(feedbackEvents.count + 1)
        feedbackEvents.append(record)
        notify(.learnerWork)
        return .stored(record)
    }

    public func feedback(requestID: String) -> [FeedbackRecord] {
        feedbackEvents.filter { $0.requestID == requestID }
    }

    // MARK: Pairs

    /// Whether a phase that keeps its pairs used (queued, running, succeeded, rejected) took this request.
    private func isUsed(_ requestID: String) -> Bool {
        phaseRecords.contains { StoreRules.statusesUsingPairs.contains($0.status) && phasePairs[$0.id, default: []].contains(requestID) }
    }

    /// The same selection as the SQLite query: latest event per request, strict preference, completed,
    /// neither sample cancelled, different token sequences, then the query's filters; oldest verdict first.
    private func matchingPairs(_ query: LabelledPairQuery) -> [LabelledPair] {
        var latest: [String: FeedbackRecord] = [:]
        for event in feedbackEvents { latest[event.requestID] = event }
        return latest.values.sorted { $0.id < $1.id }.compactMap { event -> LabelledPair? in
            guard let preference = event.preference, let logged = requests[event.requestID],
                  let pairID = logged.request.pairID, logged.request.status == .completed,
                  query.sources.contains(event.source), !(query.unusedOnly && isUsed(event.requestID)) else { return nil }
            if query.choicesOnly, case .thumb = event.verdict { return nil }
            let chosen = logged.samples[preference.chosenIndex], rejected = logged.samples[preference.rejectedIndex]
            guard chosen.finishReason != .cancelled, rejected.finishReason != .cancelled,
                  chosen.tokenIDs != rejected.tokenIDs else { return nil }
            return LabelledPair(requestID: logged.request.id, pairID: pairID, policyVersion: logged.request.policyVersion,
                                messages: logged.request.messages, promptTokenIDs: logged.request.promptTokenIDs,
                                chosen: PairSample(chosen), rejected: PairSample(rejected), source: event.source,
                                feedbackID: event.id, labelledAt: event.createdAt)
        }
    }

    public func labelledPairs(_ query: LabelledPairQuery) -> [LabelledPair] {
        let pairs = matchingPairs(query)
        return query.limit.map { Array(pairs.prefix(max(0, $0))) } ?? pairs
    }

    public func countLabelledPairs(_ query: LabelledPairQuery) -> Int { matchingPairs(query).count }

    /// The same selection as the SQLite query: latest event per request a thumb, completed, the rated sample not
    /// cancelled, then the query's filters; oldest verdict first.
    private func matchingRatedResponses(_ query: LabelledPairQuery) -> [RatedResponse] {
        var latest: [String: FeedbackRecord] = [:]
        for event in feedbackEvents { latest[event.requestID] = event }
        return latest.values.sorted { $0.id < $1.id }.compactMap { event -> RatedResponse? in
            guard case let .thumb(index, rating) = event.verdict, let logged = requests[event.requestID],
                  logged.request.status == .completed, index < logged.samples.count, logged.samples[index].finishReason != .cancelled,
                  query.sources.contains(event.source), !(query.unusedOnly && isUsed(event.requestID)) else { return nil }
            return RatedResponse(requestID: logged.request.id, policyVersion: logged.request.policyVersion, messages: logged.request.messages,
                                 promptTokenIDs: logged.request.promptTokenIDs, sample: PairSample(logged.samples[index]),
                                 desirable: rating == .up, source: event.source, feedbackID: event.id, labelledAt: event.createdAt)
        }
    }

    public func ratedResponses(_ query: LabelledPairQuery) -> [RatedResponse] {
        let rated = matchingRatedResponses(query)
        return query.limit.map { Array(rated.prefix(max(0, $0))) } ?? rated
    }

    public func countRatedResponses(_ query: LabelledPairQuery) -> Int { matchingRatedResponses(query).count }

    public func activity(since: Date, bucketSeconds: Int) -> [ActivityBucket] {
        var buckets = ActivityBuckets(widthSeconds: bucketSeconds)
        let from = StoredTime.normalized(since)
        for logged in requests.values where logged.request.createdAt >= from {
            buckets.add(at: logged.request.createdAt) { $0.requests += 1; if logged.request.pairID != nil { $0.pairs += 1 } }
        }
        for event in feedbackEvents where event.createdAt >= from {
            buckets.add(at: event.createdAt) { $0.feedback[event.source, default: 0] += 1 }
        }
        for pair in matchingPairs(LabelledPairQuery(unusedOnly: false)) where pair.labelledAt >= from {
            buckets.add(at: pair.labelledAt) { $0.labelledPairs += 1 }
        }
        return buckets.sorted
    }

    public func unlabelledPairs(limit: Int) -> [UnlabelledPair] {
        let judged = Set(feedbackEvents.map(\.requestID))
        let pairs = requestOrder.lazy.compactMap { id -> UnlabelledPair? in
            guard let logged = self.requests[id], let pairID = logged.request.pairID, logged.request.status == .completed,
                  !judged.contains(id), logged.samples.count == 2,
                  logged.samples.allSatisfy({ $0.finishReason != .cancelled }),
                  logged.samples[0].tokenIDs != logged.samples[1].tokenIDs else { return nil }
            return UnlabelledPair(requestID: id, pairID: pairID, policyVersion: logged.request.policyVersion,
                                  messages: logged.request.messages, promptTokenIDs: logged.request.promptTokenIDs,
                                  samples: logged.samples.map(PairSample.init))
        }
        return Array(pairs.prefix(max(0, limit)))
    }

    // MARK: Phases

    private func phaseIndex(_ id: Int64) -> Int? { phaseRecords.firstIndex { $0.id == id } }

    private func existingPhaseIndex(_ id: Int64) throws -> Int {
        guard let index = phaseIndex(id) else { throw StoreError.unknownPhase(id: id) }
        return index
    }

    /// Rejects the candidates the given phases produced that were never gated.
    private func rejectCandidates(ofPhases ids: Set<Int64>) -> [String] {
        var rejected: [String] = []
        for index in versions.indices where versions[index].status == .candidate && versions[index].phaseID.map(ids.contains) == true {
            versions[index].status = .rejected
            rejected.append(versions[index].id)
        }
        return rejected
    }

    public func createPhase(_ draft: PhaseDraft) throws -> PhaseRecord {
        guard versionIndex(draft.baseVersion) != nil else { throw StoreError.unknownVersion(id: draft.baseVersion) }
        let phase = PhaseRecord(id: Int64(phaseRecords.count + 1), trigger: draft.trigger, status: .queued,
                                config: draft.config, baseVersion: draft.baseVersion, resultVersion: nil, pairsUsed: 0,
                                createdAt: StoredTime.normalized(draft.createdAt), startedAt: nil, finishedAt: nil,
                                progress: nil, metrics: nil, error: nil)
        phaseRecords.append(phase)
        notify(.learnerWork)
        return phase
    }

    public func startPhase(id: Int64, at date: Date) throws -> PhaseRecord {
        let index = try existingPhaseIndex(id)
        try StoreRules.checkTransition(phaseRecords[index], allowed: [.queued], to: .running)
        phaseRecords[index].status = .running
        phaseRecords[index].startedAt = StoredTime.normalized(date)
        return phaseRecords[index]
    }

    public func recordPhasePairs(phaseID: Int64, requestIDs: [String]) throws {
        let index = try existingPhaseIndex(phaseID)
        let phase = phaseRecords[index]
        guard phase.status == .queued || phase.status == .running else {
            throw StoreError.invalidTransition(what: "the pairs of phase \(phaseID)", from: phase.status.rawValue,
                                               to: "changed", hint: "record pairs before the phase finishes")
        }
        for requestID in requestIDs {
            guard let logged = requests[requestID] else { throw StoreError.unknownResponse(id: requestID) }
            guard feedbackEvents.contains(where: { $0.requestID == logged.request.id }) else {
                throw StoreError.invalidRecord(what: "request \(requestID) has no verdict",
                                               hint: "record the request ids of labelled pairs and rated responses")
            }
        }
        phasePairs[phaseID, default: []].formUnion(requestIDs)
        phaseRecords[index].pairsUsed = phasePairs[phaseID, default: []].count
    }

    public func updatePhaseProgress(id: Int64, progress: JSONObject) throws {
        let index = try existingPhaseIndex(id)
        let phase = phaseRecords[index]
        guard phase.status == .running else {
            throw StoreError.invalidTransition(what: "the progress of phase \(id)", from: phase.status.rawValue,
                                               to: "updated", hint: "report progress only while the phase runs")
        }
        phaseRecords[index].progress = progress
    }

    public func finishPhase(id: Int64, outcome: PhaseOutcome, at date: Date) throws -> PhaseRecord {
        try StoreRules.checkFailure(outcome)
        let index = try existingPhaseIndex(id)
        let phase = phaseRecords[index]
        try StoreRules.checkTransition(phase, allowed: StoreRules.statusesBefore(outcome), to: outcome.status)
        if let versionID = outcome.versionID {
            try StoreRules.checkOutcomeVersion(versions[try existingVersionIndex(versionID)], of: phase)
        }
        switch outcome {
        case .promoted(let versionID, _): _ = try serve(versionID)
        case .produced: break
        case .rejected(let versionID, _): versions[try existingVersionIndex(versionID)].status = .rejected
        case .failed, .cancelled:
            phaseRecords[index].error = outcome.error
            _ = rejectCandidates(ofPhases: [id])
        }
        phaseRecords[index].status = outcome.status
        phaseRecords[index].resultVersion = outcome.versionID
        phaseRecords[index].finishedAt = StoredTime.normalized(date)
        phaseRecords[index].metrics = outcome.metrics
        return phaseRecords[index]
    }

    public func phase(id: Int64) -> PhaseRecord? { phaseIndex(id).map { phaseRecords[$0] } }
    public func phases() -> [PhaseRecord] { phaseRecords }

    public func markInterruptedPhasesFailed(at date: Date) -> InterruptedPhases {
        let interrupted = phaseRecords.indices.filter { !phaseRecords[$0].status.isFinished }
        let ids = interrupted.map { phaseRecords[$0].id }
        let rejected = rejectCandidates(ofPhases: Set(ids))
        for index in interrupted {
            phaseRecords[index].status = .failed
            phaseRecords[index].error = StoreRules.interruptedPhaseError
            phaseRecords[index].finishedAt = StoredTime.normalized(date)
        }
        return InterruptedPhases(failedPhaseIDs: ids, rejectedVersionIDs: rejected)
    }

    // MARK: Health

    /// Memory is always writable.
    public func checkWritable() {}
}

extension PairSample {
    init(_ sample: SampleRecord) {
        self.init(index: sample.index, tokenIDs: sample.tokenIDs, logprobs: sample.logprobs, text: sample.text,
                  finishReason: sample.finishReason)
    }
}

// MARK: - Heartbeats

extension InMemoryProximaStore: ProcessHeartbeats {
    public func recordHeartbeat(_ record: ProcessRecord, forgetBefore: Date) {
        var stored = record
        stored.startedAt = StoredTime.normalized(record.startedAt)
        stored.lastSeen = StoredTime.normalized(record.lastSeen)
        processes[record.id] = stored
        processes = processes.filter { $0.value.lastSeen >= forgetBefore }
    }

    public func heartbeats(seenSince since: Date) -> [ProcessRecord] {
        processes.values.filter { $0.lastSeen >= since }.sorted { ($0.startedAt, $0.id) > ($1.startedAt, $1.id) }
    }

    public func removeHeartbeat(id: String) { processes[id] = nil }
}
