// InProcess: what the in-process tests share — the tiny chat model, settings for small phases that always
// promote, the service as `proxima serve` assembles it (buildApplication) on a store they give, and client helpers.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Inference
import Learning
import Llama
import Logging
import ModelFiles
import Prometheus
import ProximaApp
import ProximaCore
import ProximaNumerics
import Service
import Simulators
import TestModels
import XCTest

enum InProcess {
    static let pool = ComputePool(threads: 2)
    static let model: ModelBundle = {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-tiny-chat-\(UUID().uuidString).gguf").path
        do {
            try TinyChatModel.write(to: path)
            return try ModelBundle(path: path, pool: pool)
        } catch {
            fatalError("the tiny chat model does not load: \(error)")
        }
    }()

    /// Operator-driven learning with small phases that always promote.
    static func settings(_ edit: (inout ServeSettings) -> Void = { _ in }) -> ServeSettings {
        var s = ServeSettings()
        s.learner.automatic = false
        s.learner.gateThreshold = 0
        s.learner.gatePromptCount = 3
        s.learner.gateMaxTokens = 6
        s.learner.keepVersions = 0
        s.learner.phase.steps = 2
        s.learner.phase.ensembleSize = 2
        s.learner.phase.lora = LoRAConfiguration(rank: 2, targets: [.query, .value])
        s.learner.phase.batchSize = 4
        s.learner.phase.optimizer.learningRate = 0.01
        edit(&s)
        return s
    }

    /// The service on `store`, with version files in `files` (a temporary folder unless given); `shared` makes it
    /// one of several processes sharing the store.
    static func server(_ settings: ServeSettings, store: any ProximaStore = InMemoryProximaStore(),
                       files: (any PolicyFileStore)? = nil, engine: (any ChatEngine)? = nil,
                       clock: any WallClock = SystemWallClock(), shared: Sharing? = nil) async throws -> ProximaServer {
        let files = files ?? PolicyDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("proxima-policies-\(UUID().uuidString)"))
        var logger = Logger(label: "in-process-test")
        logger.logLevel = .warning
        let registry = PrometheusCollectorRegistry()
        var dependencies = ServerDependencies(model: model, modelSHA256: String(repeating: "b", count: 64), store: store,
                                              pool: pool, policyFiles: files, judge: try RubricSimulator(),
                                              metrics: registry, metricsFactory: ProximaAPI.metricsFactory(registry: registry),
                                              logger: logger)
        dependencies.engine = engine
        dependencies.clock = clock
        if let shared {
            dependencies.sharedFiles = shared.files
            dependencies.notifications = shared.notifications
            dependencies.heartbeats = shared.heartbeats
            dependencies.learnerElection = shared.election
            dependencies.heartbeatInterval = .milliseconds(100)
        }
        return try await buildApplication(settings, dependencies)
    }

    /// What processes sharing one store share besides it (the PostgreSQL store is all of these).
    struct Sharing {
        var files: any SharedVersionFiles
        var notifications: any StoreNotifications
        var heartbeats: any ProcessHeartbeats
        var election: any LearnerElection
    }
}

// MARK: - Client helpers

extension TestClientProtocol {
    func json(_ uri: String, method: HTTPRequest.Method = .get, body: String? = nil) async throws -> [String: Any] {
        let response = try await execute(uri: uri, method: method, headers: [.contentType: "application/json"],
                                         body: body.map { ByteBuffer(string: $0) })
        guard response.status.code < 300 else { throw TestFailure("\(method) \(uri): \(response.status) \(String(buffer: response.body))") }
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any])
    }

    /// A chat with two visible choices: its pair id and the version that served it.
    func chatPair(seed: Int) async throws -> (pair: String, version: String) {
        let chat = try await json("/v1/chat/completions", method: .post, body: """
            {"messages": [{"role": "user", "content": "Say something about \(seed)."}], "n": 2, "max_tokens": 6, "seed": \(seed)}
            """)
        let info = try XCTUnwrap(chat["proxima"] as? [String: Any])
        return (try XCTUnwrap(info["pair_id"] as? String), try XCTUnwrap(info["policy_version"] as? String))
    }

    func choose(_ pair: String, _ choice: Int) async throws {
        _ = try await json("/v1/feedback", method: .post, body: #"{"pair_id": "\#(pair)", "choice": \#(choice)}"#)
    }

    /// Starts a phase with the learner's defaults and waits until it ends.
    func runPhase() async throws -> [String: Any] {
        let started = try await json("/admin/phases", method: .post)
        return try await waitForPhase(id: try XCTUnwrap(started["id"] as? Int))
    }

    func waitForPhase(id: Int, timeout: Duration = .seconds(120)) async throws -> [String: Any] {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let response = try await execute(uri: "/admin/phases/\(id)", method: .get)
            if response.status == .ok,
               let phase = try JSONSerialization.jsonObject(with: Data(response.body.readableBytesView)) as? [String: Any],
               let status = phase["status"] as? String, ["succeeded", "rejected", "failed", "cancelled"].contains(status) {
                return phase
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestFailure("phase \(id) did not end within \(timeout)")
    }

    func serving() async throws -> String {
        let policies = try await json("/admin/policies")
        let list = try XCTUnwrap(policies["data"] as? [[String: Any]])
        return try XCTUnwrap(list.first { $0["status"] as? String == "serving" }?["id"] as? String)
    }
}

struct TestFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - Shorthands for the in-process test classes

extension XCTestCase {
    func settings(_ edit: (inout ServeSettings) -> Void = { _ in }) -> ServeSettings { InProcess.settings(edit) }

    func server(_ settings: ServeSettings, store: any ProximaStore = InMemoryProximaStore(),
                files: (any PolicyFileStore)? = nil, engine: (any ChatEngine)? = nil,
                clock: any WallClock = SystemWallClock()) async throws -> ProximaServer {
        try await InProcess.server(settings, store: store, files: files, engine: engine, clock: clock)
    }
}
