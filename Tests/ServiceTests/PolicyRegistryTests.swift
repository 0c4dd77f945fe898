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
    func stateBytes(_ state: StoredFile, version: String) throws -> [UInt8] { try inner.stateBytes(state, version: version) }
    func install(stateBytes: [UInt8], state: StoredFile, adapter: StoredFile?, baseModelName: String, version: String) throws {
        try inner.install(stateBytes: stateBytes, state: state, adapter: adapter, baseModelName: baseModelName, version: version)
    }
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

    /// Two processes on two disks sharing one database: what one publishes, the other fetches from the shared
    /// files, verified, before it serves it; a damaged or missing copy is refused, never served.
    func testAVersionPublishedOnOneDiskIsFetchedVerifiedOnAnother() async throws {
        let store = InMemoryProximaStore()
        _ = try await store.ensureBaseVersion(baseModelSHA256: String(repeating: "a", count: 64), at: Date())
        let shared = InMemorySharedVersionFiles()
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-shared-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: root) }
        let (diskA, diskB) = (PolicyDirectory(root.appendingPathComponent("a")), PolicyDirectory(root.appendingPathComponent("b")))
        func registry(_ files: PolicyDirectory) -> PolicyRegistry {
            PolicyRegistry(files: files, shared: shared, store: store, weights: Self.weights, baseModelName: "tiny",
                           logger: Logger(label: "registry-test")) { _ in }
        }
        let (learner, replica) = (registry(diskA), registry(diskB))
        let layout = LoRALayout(model: TinyChatModel.config, lora: LoRAConfiguration(rank: 2, targets: [.query, .value]))
        let ensemble = LoRAEnsemble(layout: layout, memberCount: 2, seed: 7)
        for m in ensemble.members { for i in 0..<layout.count { m.parameters.storage.pointer[i] += 1e-3 * Float(i % 5) } }
        let version = try await learner.publish(ensemble, parent: "v0", phaseID: nil, metrics: nil)
        let state = try XCTUnwrap(version.state)
        let inDatabase = await shared.storedFiles([state.sha256])
        XCTAssertEqual(inDatabase, [state.sha256], "published to the database before the store names it")
        XCTAssertFalse(diskB.exists(state))
        let pinnable = try await replica.pinnable()
        XCTAssertEqual(pinnable, ["v0", version.id], "a version in the database can be pinned on every replica")

        let served = try await replica.policy(id: version.id)
        XCTAssertTrue(diskB.exists(state), "installed on the replica's disk")
        XCTAssertNoThrow(try diskB.verify(XCTUnwrap(version.adapter), version: version.id), "the adapter made there is the published one")
        let fetched = try await replica.ensemble(of: version.id)
        XCTAssertEqual(fetched?.members.map(\.parameters.storage.array), ensemble.members.map(\.parameters.storage.array))
        XCTAssertEqual(served.id, version.id)

        // A damaged copy in the database is refused (and nothing is installed); so is a missing one.
        let second = LoRAEnsemble(layout: layout, memberCount: 2, seed: 8)
        let v2 = try await learner.publish(second, parent: "v0", phaseID: nil, metrics: nil)
        let state2 = try XCTUnwrap(v2.state)
        let copy = await shared.file(sha256: state2.sha256)
        var bytes = try XCTUnwrap(copy)
        bytes[bytes.count / 2] ^= 0x40
        await shared.damage(sha256: state2.sha256, with: bytes)
        do {
            _ = try await replica.policy(id: v2.id)
            XCTFail("served a damaged copy")
        } catch RegistryError.corruptFile {}
        XCTAssertFalse(diskB.exists(state2))
        await shared.removeFile(sha256: state2.sha256)
        do {
            _ = try await replica.policy(id: v2.id)
            XCTFail("served a version whose files are nowhere")
        } catch RegistryError.missingFile {}
        let pinnableNow = try await replica.pinnable()
        XCTAssertEqual(pinnableNow, ["v0", version.id])
    }

    /// Two processes sharing one store: an activation made through one reaches the other through the store's
    /// notifications (the in-memory twin of PostgreSQL's LISTEN/NOTIFY), which swaps to it; so does a rollback.
    func testAnActivationElsewhereIsFollowed() async throws {
        let store = InMemoryProximaStore()
        _ = try await store.ensureBaseVersion(baseModelSHA256: String(repeating: "a", count: 64), at: Date())
        let (files, shared) = (InMemoryPolicyFiles(), InMemorySharedVersionFiles())
        let swapped = Swaps()
        let replicaA = PolicyRegistry(files: files, shared: shared, store: store, weights: Self.weights, baseModelName: "tiny",
                                      logger: Logger(label: "replica-a")) { _ in }
        let filesB = InMemoryPolicyFiles()
        let replicaB = PolicyRegistry(files: filesB, shared: shared, store: store, weights: Self.weights, baseModelName: "tiny",
                                      logger: Logger(label: "replica-b")) { swapped.append($0.id) }
        _ = try await replicaA.activateServing()
        _ = try await replicaB.activateServing()
        let follower = Task { await store.follow(.servingVersion) { _ = try? await replicaB.followStore() } }
        defer { follower.cancel() }
        let layout = LoRALayout(model: TinyChatModel.config, lora: LoRAConfiguration(rank: 2, targets: [.query]))
        let v1 = try await replicaA.publish(LoRAEnsemble(layout: layout, memberCount: 1, seed: 3), parent: "v0", phaseID: nil, metrics: nil)
        try await Self.waitFor { await replicaB.hasFiles(of: v1) }   // fetched while it is a candidate
        try await replicaA.activate(v1.id)
        try await Self.waitFor { await replicaB.activeID == v1.id }
        try await replicaA.activate("v0")   // the operator rolls back through A
        try await Self.waitFor { await replicaB.activeID == "v0" }
        XCTAssertEqual(swapped.ids, ["v0", v1.id, "v0"])
    }

    /// Polls `condition` for up to 2 s.
    static func waitFor(_ condition: () async -> Bool, file: StaticString = #filePath, line: UInt = #line) async throws {
        for _ in 0..<200 {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        XCTFail("not within 2 s", file: file, line: line)
    }
}

/// The ids a registry swapped the engine to, in order.
private final class Swaps: @unchecked Sendable {
    private let lock = NSLock()
    private var list: [String] = []
    func append(_ id: String) { lock.withLock { list.append(id) } }
    var ids: [String] { lock.withLock { list } }
}
