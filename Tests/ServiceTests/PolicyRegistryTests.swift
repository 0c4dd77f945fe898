// PolicyRegistryTests: what the registry keeps in memory over many versions (the merged adapters of the two
// most recently used, never an ensemble), and that a phase's starting ensemble is read from the version's file.

import Foundation
import Inference
import Learning
import Llama
import Logging
import ModelFiles
import ProximaCore
import ProximaNumerics
import Service
import TestModels
import XCTest

/// The in-memory file store, counting how often a version's state is read.
private final class CountingFiles: PolicyFileStore, @unchecked Sendable {
    let inner = InMemoryPolicyFiles()
    private let lock = NSLock()
    private var counts: [String: Int] = [:]

    func reads(_ state: StoredFile) -> Int { lock.withLock { counts[state.sha256, default: 0] } }
    func store(_ ensemble: LoRAEnsemble, baseModelName: String) throws -> (adapter: StoredFile, state: StoredFile) {
        try inner.store(ensemble, baseModelName: baseModelName)
    }
    func ensemble(in state: StoredFile, version: String) throws -> LoRAEnsemble {
        lock.withLock { counts[state.sha256, default: 0] += 1 }
        return try inner.ensemble(in: state, version: version)
    }
    func verify(_ file: StoredFile, version: String) throws { try inner.verify(file, version: version) }
    func exists(_ state: StoredFile) -> Bool { inner.exists(state) }
    func remove(_ state: StoredFile) throws -> Bool { try inner.remove(state) }
    func removeLeftovers(keeping referenced: [StoredFile]) throws -> [String] { try inner.removeLeftovers(keeping: referenced) }
}

final class PolicyRegistryTests: XCTestCase {
    private static let weights: LlamaWeights = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-registry-\(UUID().uuidString).gguf").path
        do {
            try TinyChatModel.write(to: path)
            return try ModelBundle(path: path, pool: nil).weights
        } catch {
            fatalError("the tiny chat model does not load: \(error)")
        }
    }()

    func testOnlyTheTwoMostRecentlyUsedPoliciesStayLoadedAndEnsemblesAreReadFromFiles() async throws {
        let store = InMemoryProximaStore()
        _ = try await store.ensureBaseVersion(baseModelSHA256: String(repeating: "a", count: 64), at: Date())
        let files = CountingFiles()
        let registry = PolicyRegistry(files: files, store: store, weights: Self.weights, baseModelName: "tiny",
                                      logger: Logger(label: "registry-test")) { _ in }
        let layout = LoRALayout(model: TinyChatModel.config, lora: LoRAConfiguration(rank: 2, targets: [.query, .value]))
        var published: [(PolicyVersionRecord, LoRAEnsemble)] = []
        for k in 0..<4 {
            let ensemble = LoRAEnsemble(layout: layout, memberCount: 2, seed: UInt64(k))
            for m in ensemble.members { for i in 0..<layout.count { m.parameters.storage.pointer[i] += Float(k + 1) * 1e-3 } }
            published.append((try await registry.publish(ensemble, parent: "v0", phaseID: nil, metrics: nil), ensemble))
            let cached = await registry.cachedVersions
            XCTAssertLessThanOrEqual(cached.count, 2)
            XCTAssertEqual(cached.last, published.last!.0.id, "the newest candidate stays loaded (its gate and promotion come next)")
        }
        let afterPublishing = await registry.cachedVersions
        XCTAssertEqual(afterPublishing, ["v3", "v4"])

        // A phase's starting ensemble comes from the file, every time (the registry holds only merges).
        let (v2, trained) = published[1]
        let first = try await registry.ensemble(of: v2.id), second = try await registry.ensemble(of: v2.id)
        XCTAssertEqual(files.reads(v2.state!), 2)
        XCTAssertFalse(first! === second!, "each phase owns the ensemble it trains")
        XCTAssertEqual(first!.members.map(\.parameters.storage.array), trained.members.map(\.parameters.storage.array))
        let base = try await registry.ensemble(of: "v0")
        XCTAssertNil(base, "the base model has no ensemble")

        // An evicted version is loaded again from its files, and evicts the least recently used.
        _ = try await registry.policy(id: v2.id)
        XCTAssertEqual(files.reads(v2.state!), 3)
        let afterReload = await registry.cachedVersions
        XCTAssertEqual(afterReload, ["v4", v2.id])
        let policy = try await registry.policy(id: "v4")
        XCTAssertNotNil(policy.adapter)
        XCTAssertEqual(files.reads(published[3].0.state!), 0, "a cached version is not read again")
    }
}
