// PolicyRegistry: immutable policy versions in the file store and in the store. Publishing writes a version's
// files (its ensemble state and merged adapter, named by content) before the database learns of it;
// activation reads them back verified, commits the switch, then swaps the engine's policy.

import Foundation
import Learning
import Llama
import Logging
import Metrics
import ProximaCore

/// Versions, their files, and which one serves.
public actor PolicyRegistry {
    private let files: any PolicyFileStore
    /// Where versions' files are shared with processes on other disks (the PostgreSQL store), or nil.
    private let shared: (any SharedVersionFiles)?
    private let store: any ProximaStore
    private let weights: LlamaWeights
    private let baseModelName: String
    private let onActivate: @Sendable (ServingPolicy) -> Void
    private let logger: Logger
    private let clock: any WallClock
    /// Loaded policies, most recently used last. Each learned one holds its merged adapter (98 MB for the
    /// default model and settings); two stay: the serving version and the one used before it (the candidate
    /// being gated, or the version a promotion or rollback replaced).
    private var loaded: [String: ServingPolicy] = [:]
    private var recency: [String] = []
    static let cacheLimit = 2

    /// `files` keeps the learned versions' files; with `shared`, each published version's state file is also put
    /// there (before the store learns of the version), and a version whose files are not on this disk is fetched
    /// from it and verified before it is used. `onActivate` swaps the engine's policy.
    public init(files: any PolicyFileStore, shared: (any SharedVersionFiles)? = nil, store: any ProximaStore, weights: LlamaWeights,
                baseModelName: String, logger: Logger, clock: any WallClock = SystemWallClock(),
                onActivate: @escaping @Sendable (ServingPolicy) -> Void) {
        self.files = files
        self.shared = shared
        self.clock = clock
        self.store = store
        self.weights = weights
        self.baseModelName = baseModelName
        self.logger = logger
        self.onActivate = onActivate
    }

    // MARK: - Loading

    /// The policy serving now, loaded from its files.
    public func servingPolicy() async throws -> ServingPolicy {
        guard let record = try await store.servingVersion() else { throw RegistryError.noServingVersion }
        return try await policy(id: record.id)
    }

    /// The policy of version `id` (the base model for a version without state), loaded once.
    public func policy(id: String) async throws -> ServingPolicy {
        if let p = loaded[id] {
            touch(id)
            return p
        }
        guard let record = try await store.policyVersion(id: id) else { throw RegistryError.unknownVersion(id) }
        let policy: ServingPolicy
        if record.state != nil {
            try await fetchIfMissing(record)
            let (files, weights) = (self.files, self.weights)
            policy = try await onOwnThread("proxima-versions") {
                // Every file of the version is checked, the adapter too (it is what PEFT and exports read).
                if let adapter = record.adapter { try files.verify(adapter, version: id) }
                return ServingPolicy(id: id, weights: weights, ensemble: try Self.readEnsemble(record, files: files, model: weights.config)!)
            }
        } else {
            policy = ServingPolicy(id: id, weights: weights)
        }
        remember(policy)
        return policy
    }

    /// The versions a request can pin (`model: "<name>@<id>"`): the base and every version whose files are kept
    /// (on this disk or shared).
    public func pinnable() async throws -> [String] {
        let versions = try await store.policyVersions()
        let elsewhere = try await shared?.storedFiles(versions.compactMap { $0.state.flatMap { files.exists($0) ? nil : $0.sha256 } }) ?? []
        return versions.filter { $0.state.map { files.exists($0) || elsewhere.contains($0.sha256) } ?? true }.map(\.id)
    }

    /// Whether this disk holds the files of `version` (the base model needs none).
    public func hasFiles(of version: PolicyVersionRecord) -> Bool { version.state.map(files.exists) ?? true }

    /// Loads the newest candidate (fetching its files when this disk lacks them), so that its promotion swaps
    /// at once; it stays in the cache beside the serving version, as on the learner while it gates it.
    private func prefetchCandidates() async throws {
        guard let candidate = try await store.policyVersions().last(where: { $0.status == .candidate }), loaded[candidate.id] == nil else { return }
        _ = try await policy(id: candidate.id)
        logger.info("loaded candidate \(candidate.id) ahead of its promotion")
    }

    /// Fetches a version's state file from the shared files when it is not on this disk, and installs it (the
    /// state and the adapter made from it are verified against their sha256 on the way in).
    private func fetchIfMissing(_ record: PolicyVersionRecord) async throws {
        guard let shared, let state = record.state, !files.exists(state) else { return }
        guard let bytes = try await shared.file(sha256: state.sha256) else {
            throw RegistryError.missingFile(version: record.id, path: "\(state.path) (not on this disk, nor in the database)")
        }
        let (files, name) = (self.files, baseModelName)
        try await onOwnThread("proxima-versions") {
            try files.install(stateBytes: bytes, state: state, adapter: record.adapter, baseModelName: name, version: record.id)
        }
        logger.info("fetched the files of \(record.id) from the database (\(bytes.count) bytes, sha256 verified)")
    }

    /// The LoRA ensemble of version `id` (members and AdamW moments) read from its state file, for a phase to
    /// start from; nil for the base model. Not cached: it is three times the size of the merge serving needs,
    /// and a phase reads it once.
    public func ensemble(of id: String) async throws -> LoRAEnsemble? {
        guard let record = try await store.policyVersion(id: id) else { throw RegistryError.unknownVersion(id) }
        try await fetchIfMissing(record)
        let (files, model) = (self.files, weights.config)
        return try await onOwnThread("proxima-versions") { try Self.readEnsemble(record, files: files, model: model) }
    }

    private static func readEnsemble(_ record: PolicyVersionRecord, files: any PolicyFileStore, model: LlamaConfig) throws -> LoRAEnsemble? {
        guard let state = record.state else { return nil }
        let ensemble = try files.ensemble(in: state, version: record.id)
        guard ensemble.layout.model == model else { throw RegistryError.wrongModel(record.id) }
        return ensemble
    }

    /// The versions whose policies are in memory now, least recently used first (at most `cacheLimit`).
    public var cachedVersions: [String] { recency }

    private func touch(_ id: String) {
        recency.removeAll { $0 == id }
        recency.append(id)
    }

    /// Caches `policy`, dropping the least recently used beyond the limit (requests still using a dropped
    /// policy keep their own reference).
    private func remember(_ policy: ServingPolicy) {
        loaded[policy.id] = policy
        touch(policy.id)
        while recency.count > Self.cacheLimit { loaded[recency.removeFirst()] = nil }
    }

    // MARK: - Publishing

    /// Writes `ensemble` as a new candidate version trained from `parent` by phase `phaseID`.
    public func publish(_ ensemble: LoRAEnsemble, parent: String, phaseID: Int64?, metrics: JSONObject?) async throws -> PolicyVersionRecord {
        let (files, name) = (self.files, baseModelName)
        let stored = try await onOwnThread("proxima-versions") { try files.store(ensemble, baseModelName: name) }
        if let shared {
            let bytes = try await onOwnThread("proxima-versions") { try files.stateBytes(stored.state, version: "a new version") }
            try await shared.putFile(sha256: stored.state.sha256, bytes: bytes)
        }
        let record = try await store.insertCandidate(CandidateVersion(parent: parent, phaseID: phaseID, createdAt: clock.now(),
                                                                      adapter: stored.adapter, state: stored.state, metrics: metrics))
        remember(ServingPolicy(id: record.id, weights: weights, ensemble: ensemble))
        logger.info("published candidate \(record.id) (parent \(parent)) as \(stored.state.path)")
        return record
    }

    /// Writes `ensemble` (an adapter brought from elsewhere) as a new candidate version on top of the base model.
    public func publishImported(_ ensemble: LoRAEnsemble, metrics: JSONObject) async throws -> PolicyVersionRecord {
        guard let base = try await store.policyVersions().first(where: { $0.parent == nil }) else { throw RegistryError.noServingVersion }
        return try await publish(ensemble, parent: base.id, phaseID: nil, metrics: metrics)
    }

    /// The shape of the model every version applies to.
    public nonisolated var modelConfig: LlamaConfig { weights.config }

    // MARK: - Activation

    /// The version whose policy the engine serves now.
    public private(set) var activeID: String?

    private func swap(to policy: ServingPolicy) {
        onActivate(policy)
        activeID = policy.id
    }

    /// Serves the version the store names as serving when another process changed it (an activation,
    /// promotion or rollback made through another replica): its files are fetched if need be and checked, then
    /// the engine swaps. Nothing happens when it serves already. Returns the id it swapped to, if any.
    /// Also loads the newest candidate (the one being gated), so that its promotion swaps at once.
    @discardableResult
    public func followStore() async throws -> String? {
        guard let record = try await store.servingVersion(), record.id != activeID else {
            try await prefetchCandidates()
            return nil
        }
        let previous = activeID
        let policy = try await policy(id: record.id)
        guard activeID == previous else { return nil }   // another swap happened meanwhile; the next call settles it
        swap(to: policy)
        logger.notice("now serving \(record.id) (was \(previous ?? "none")): changed through another process")
        return record.id
    }

    /// Serves version `id` (promotion or rollback): its files are checked, the switch is committed, then
    /// the engine swaps; requests in flight finish on the version they started with.
    @discardableResult
    public func activate(_ id: String) async throws -> ServingChange {
        let policy = try await policy(id: id)
        let change = try await store.setServing(id)
        swap(to: policy)
        logger.info("activated \(id)\(change.retired.map { " (retired \($0.id))" } ?? "")")
        return change
    }

    /// Swaps the engine to `id` after the store already made it the serving version (a phase's promotion
    /// commits the version change with the phase's outcome).
    public func didPromote(_ id: String) async throws {
        swap(to: try await policy(id: id))
        logger.info("activated \(id)")
    }

    /// Marks the serving version's policy active in the engine (at startup). When its files are missing or
    /// damaged, the newest ancestor whose files are intact (at worst the base model) serves instead: the
    /// switch is committed and said loudly (an error in the log, `fallback`, which /ready reports).
    public func activateServing() async throws -> ServingPolicy {
        guard let record = try await store.servingVersion() else { throw RegistryError.noServingVersion }
        do {
            let policy = try await policy(id: record.id)
            swap(to: policy)
            return policy
        } catch let damage as RegistryError {
            var reasons = ["\(record.id): \(damage)"]
            var candidate = record.parent
            while let id = candidate, let ancestor = try await store.policyVersion(id: id) {
                do {
                    let policy = try await policy(id: id)
                    _ = try await store.setServing(id)
                    swap(to: policy)
                    fallback = "serving \(id) instead of \(record.id), whose files cannot be used (\(reasons.joined(separator: "; ")))"
                    logger.error("\(fallback!)")
                    Gauge(label: "proxima_serving_fallback").record(1)
                    return policy
                } catch let error as RegistryError {
                    reasons.append("\(id): \(error)")
                    candidate = ancestor.parent
                }
            }
            throw damage
        }
    }

    /// Why the version serving is not the one the store named at startup (nil when it is).
    public private(set) var fallback: String?

    // MARK: - Housekeeping

    /// Deletes the files of all but the newest `keep` learned versions, never those of the serving version
    /// or its parent (the likeliest rollback). A version whose files are gone stays in the lineage but can
    /// no longer be activated. Returns the ids whose files were removed.
    @discardableResult
    public func prune(keep: Int) async throws -> [String] {
        let versions = try await store.policyVersions().filter { $0.state != nil }
        guard versions.count > keep else { return [] }
        let serving = try await store.servingVersion()
        let protected = Set([serving?.id, serving?.parent].compactMap { $0 })
        var removed: [String] = []
        for v in versions.dropLast(keep) where !protected.contains(v.id) {
            guard let state = v.state else { continue }
            let removedShared = try await shared?.removeFile(sha256: state.sha256) ?? false
            if try files.remove(state) || removedShared {
                loaded[v.id] = nil
                recency.removeAll { $0 == v.id }
                removed.append(v.id)
            }
        }
        if !removed.isEmpty { logger.info("pruned the files of \(removed.joined(separator: ", ")) (keeping the newest \(keep))") }
        return removed
    }

    /// Removes what a crash can leave: half-written files, and files no version refers to.
    public func removeLeftovers() async throws {
        let referenced = try await store.policyVersions().flatMap { [$0.state, $0.adapter].compactMap { $0 } }
        for name in try files.removeLeftovers(keeping: referenced) { logger.info("removed leftover \(name)") }
    }
}

/// Why a version cannot be used.
public enum RegistryError: Error, CustomStringConvertible {
    case noServingVersion
    case unknownVersion(String)
    case missingFile(version: String, path: String)
    case corruptFile(version: String, path: String, expected: String, actual: String)
    case wrongModel(String)

    public var description: String {
        switch self {
        case .noServingVersion: return "no version is serving (the database was not initialised)"
        case let .unknownVersion(id): return "unknown policy version '\(id)'"
        case let .missingFile(v, path): return "version \(v): file \(path) is missing"
        case let .corruptFile(v, path, e, a): return "version \(v): file \(path) is corrupt (sha256 \(a), expected \(e))"
        case let .wrongModel(id): return "version \(id) was trained for a different model shape"
        }
    }
}
