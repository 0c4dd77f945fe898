// AdminService: what operators do, behind the admin routes: list versions, activate one (promote or roll
// back), start and inspect phases (with the running phase's live progress), count activity over time, export
// labelled pairs and import pairs from elsewhere.

import Foundation
import Learning
import ProximaCore

/// One training step's numbers, as the admin routes show them.
public typealias PhaseStepReport = StepReport

/// A phase as operators see it: the stored record plus live progress while it runs.
public struct PhaseView: Sendable {
    public var record: PhaseRecord
    public var progress: PhaseProgress?
    /// While it runs, the step reports so far (a finished phase has them in its metrics' `steps`).
    public var curve: [StepReport]?

    init(record: PhaseRecord, live: (progress: PhaseProgress, curve: [StepReport])?) {
        self.record = record
        if let live, live.progress.phaseID == record.id { progress = live.progress; curve = live.curve }
    }
}

public enum AdminError: Error, CustomStringConvertible {
    case unknownPhase(Int64)
    case invalidImport(String)
    /// No labelled pair waits that no phase has used: a phase would have nothing to train on.
    case noPairs

    public var description: String {
        switch self {
        case let .unknownPhase(id): return "unknown phase \(id)"
        case .noPairs: return "no labelled pair waits that no phase has used yet: give feedback, or import pairs, first"
        case let .invalidImport(why): return why
        }
    }
}

public final class AdminService: Sendable {
    public let store: any ProximaStore
    public let registry: PolicyRegistry
    /// Queues operators' phases for the learner (this process's, or another's on a shared database).
    public let phaseQueue: PhaseQueue
    /// This process's learner; nil on a replica.
    public let learner: LearnerService?
    /// Every process serving from the same store (one here unless the store is shared).
    let processes: ProcessDirectory
    /// Reads adapters trained elsewhere (`importAdapter`); nil: imports are refused.
    let adapterReader: (any AdapterReader)?
    private let clock: any WallClock

    public init(store: any ProximaStore, registry: PolicyRegistry, phaseQueue: PhaseQueue, learner: LearnerService?,
                processes: ProcessDirectory, adapterReader: (any AdapterReader)? = nil, clock: any WallClock = SystemWallClock()) {
        self.phaseQueue = phaseQueue
        self.processes = processes
        self.store = store
        self.adapterReader = adapterReader
        self.clock = clock
        self.registry = registry
        self.learner = learner
    }

    // MARK: Versions

    public func policies() async throws -> [PolicyVersionRecord] { try await store.policyVersions() }

    /// Serves version `id` (promote a candidate, or roll back to an earlier version).
    public func activate(_ id: String) async throws -> ServingChange { try await registry.activate(id) }

    // MARK: Phases

    public func phases() async throws -> [PhaseView] {
        let live = learner?.progressAndCurve
        return try await store.phases().map { PhaseView(record: $0, live: live) }
    }

    public func phase(_ id: Int64) async throws -> PhaseView {
        guard let record = try await store.phase(id: id) else { throw AdminError.unknownPhase(id) }
        return PhaseView(record: record, live: learner?.progressAndCurve)
    }

    /// Queues a phase with the learner's defaults, overridden by `overrides` (PhaseSettings' flat keys), for
    /// the learner (on a shared database, whichever process is the learner picks it up).
    /// Throws `SettingsError` for an unknown key, a value of the wrong type or settings that cannot train.
    public func startPhase(overrides: JSONObject) async throws -> PhaseView {
        let settings = try phaseQueue.defaults.applying(overrides)
        guard try await TrainingData.countUnused(in: store, loss: settings.loss) > 0 else { throw AdminError.noPairs }
        let record = if let learner { try await learner.requestPhase(settings) } else { try await phaseQueue.request(settings) }
        return PhaseView(record: record, live: nil)
    }

    /// Cancels phase `id` (see `LearnerService.cancelPhase`): a queued one at once, a running one at its next step
    /// when this process runs it (`LearnerError.runsElsewhere` otherwise).
    public func cancelPhase(_ id: Int64) async throws -> PhaseView {
        let record: PhaseRecord
        do {
            record = if let learner { try await learner.cancelPhase(id: id) } else {
                try await phaseQueue.cancel(id: id, stopRunning: PhaseQueue.runsElsewhere)
            }
        } catch StoreError.unknownPhase {
            throw AdminError.unknownPhase(id)
        }
        return PhaseView(record: record, live: learner?.progressAndCurve)
    }

    // MARK: Processes

    /// The processes serving from this store, most recently seen first (see `ProcessDirectory`).
    public func replicas() async throws -> [ProcessRecord] { try await processes.list() }

    // MARK: Activity

    /// Requests, feedback and labelled pairs per bucket of `bucketSeconds` from `since` on (the dashboard's
    /// "over time" chart); see `ProximaStore.activity`.
    public func activity(since: Date, bucketSeconds: Int) async throws -> [ActivityBucket] {
        try await store.activity(since: since, bucketSeconds: bucketSeconds)
    }

    public var now: Date { clock.now() }

    // MARK: Pairs

    /// Labelled pairs in the export format (all of them, or only those no phase used yet) as JSON lines.
    public func exportPairs(unusedOnly: Bool) async throws -> [UInt8] {
        let pairs = try await store.labelledPairs(LabelledPairQuery(unusedOnly: unusedOnly)).map(ExportedPair.init)
        return [UInt8](try ExportedPair.jsonLines(pairs))
    }

    /// What an import did: pairs stored, and pairs skipped because they were stored already (by an earlier
    /// import, or earlier in the same one).
    public struct ImportReceipt: Sendable, Equatable {
        public var imported: Int
        public var duplicates: Int
    }

    /// Stores exported pairs as labelled pairs from source `import`, all in one transaction: each becomes a
    /// request with its two samples (chosen first) and a choice, named by the pair's identity, so importing the
    /// same pairs again stores nothing new. The version that sampled them is kept when this database knows it;
    /// otherwise they are attributed to the base version (their log-probs stay the ones recorded).
    public func importPairs(_ pairs: [ExportedPair], apiKeyID: String?) async throws -> ImportReceipt {
        let known = Set(try await store.policyVersions().map(\.id))
        if let i = pairs.firstIndex(where: { !$0.isWellFormed }) {
            throw AdminError.invalidImport("pair \(i + 1): token ids and log-probs are missing or of different lengths")
        }
        var seen = Set<String>()
        var fresh: [ExportedPair] = []
        for p in pairs where seen.insert(p.identity).inserted {
            if try await store.loggedRequest(id: "import-\(p.identity)") == nil { fresh.append(p) }
        }
        let entries = fresh.map { p in
            let suffix = p.identity
            let request = RequestRecord(id: "import-\(suffix)", pairID: "pair-import-\(suffix)", createdAt: clock.now(), apiKeyID: apiKeyID,
                                        policyVersion: known.contains(p.policyVersion) ? p.policyVersion : "v0",
                                        messages: p.prompt, promptTokenIDs: p.promptTokenIDs,
                                        sampling: SamplingRecord(temperature: 1, topP: 1, topK: 0, minP: 0, maxTokens: max(p.chosenTokenIDs.count, p.rejectedTokenIDs.count), seed: nil),
                                        n: 2, stream: false, status: .completed)
            return LabelledRequest(request: request, samples: [
                SampleRecord(index: 0, tokenIDs: p.chosenTokenIDs, logprobs: p.chosenLogprobs, text: p.chosen.map(\.content).joined(),
                             finishReason: .stop, shown: true),
                SampleRecord(index: 1, tokenIDs: p.rejectedTokenIDs, logprobs: p.rejectedLogprobs, text: p.rejected.map(\.content).joined(),
                             finishReason: .stop, shown: true),
            ], feedback: FeedbackEvent(eventID: "import-\(suffix)", subject: .choice(pairID: request.pairID!, choice: .first),
                                       source: .import, apiKeyID: apiKeyID, createdAt: clock.now()))
        }
        try await store.importLabelledRequests(entries)
        if !entries.isEmpty { learner?.doorbell.ring() }
        return ImportReceipt(imported: entries.count, duplicates: pairs.count - entries.count)
    }
}
