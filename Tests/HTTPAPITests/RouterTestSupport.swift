// RouterTestSupport: shared fixtures for the router tests: the real default model loaded once per process,
// an application over an in-memory store with a fresh Prometheus registry, and JSON request helpers.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Logging
import Inference
import ModelFiles
import Prometheus
import ProximaNumerics
import Service
import ProximaCore
import Store
import TestSupport
import XCTest

// MARK: - The model

enum SharedModel {
    static let pool = ComputePool(threads: 2)
    /// The default model, loaded once (release builds load it in about a second).
    static let bundle: ModelBundle = {
        do {
            return try ModelBundle(path: try TestPaths.defaultModel(), pool: pool)
        } catch {
            fatalError("the default model does not load: \(error)")
        }
    }()
}

// MARK: - A test server

/// An application with the real model and engine, an in-memory store and its own metrics registry.
struct TestServer {
    let app: Application<RouterResponder<ProximaRequestContext>>
    let store: InMemoryProximaStore
    let registry: PrometheusCollectorRegistry
    let engine: EngineService

    /// `runEngine: false` leaves the engine out of the service group (for refusal tests).
    init(keys: APIKeys = APIKeys(), chat: ChatConfiguration = ChatConfiguration(),
         engine engineConfiguration: EngineConfiguration = EngineConfiguration(), http: HTTPSettings = HTTPSettings(),
         runEngine: Bool = true) async throws {
        let model = SharedModel.bundle
        store = InMemoryProximaStore()
        let serving = try await store.ensureBaseVersion(baseModelSHA256: String(repeating: "a", count: 64), at: Date())
        registry = PrometheusCollectorRegistry()
        let factory = ProximaAPI.metricsFactory(registry: registry)
        var logger = Logger(label: "router-test")
        logger.logLevel = .warning
        engine = EngineService(policy: ServingPolicy(id: serving.id, weights: model.weights), tokenizer: model.tokenizer,
                               pool: SharedModel.pool, lease: ComputeLease(), configuration: engineConfiguration, logger: logger,
                               metricsFactory: factory)
        let chatService = ChatService(model: model, engine: engine, store: store, configuration: chat, metricsFactory: factory)
        let router = ProximaAPI.router(chat: chatService, feedback: FeedbackService(store: store, metricsFactory: factory),
                                       registry: registry, metricsFactory: factory,
                                       configuration: APIConfiguration(keys: keys, http: http))
        app = Application(router: router, services: runEngine ? [engine] : [], logger: logger)
    }

    func test<Value>(_ body: @Sendable (any TestClientProtocol) async throws -> Value) async throws -> Value {
        try await app.test(.router, body)
    }
}

extension ChatConfiguration {
    /// The defaults with the given values changed.
    init(pairing: Bool? = nil, maxTokensLimit: Int? = nil) {
        self.init()
        if let pairing { self.pairing = pairing }
        if let maxTokensLimit { self.maxTokensLimit = maxTokensLimit }
    }
}

// MARK: - Requests

extension TestClientProtocol {
    /// POSTs `json` (a JSON text) with Content-Type application/json unless `headers` says otherwise.
    func post(_ uri: String, json: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        var fields: HTTPFields = [.contentType: "application/json"]
        for field in headers { fields[field.name] = field.value }
        return try await execute(uri: uri, method: .post, headers: fields, body: ByteBuffer(string: json))
    }

    func get(_ uri: String, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await execute(uri: uri, method: .get, headers: headers)
    }

    /// A short, non-streamed chat completion (seeded, few tokens) that must succeed; returns its JSON.
    func complete(_ extra: String = "", content: String = "Say hello.", headers: HTTPFields = [:],
                  file: StaticString = #filePath, line: UInt = #line) async throws -> [String: Any] {
        let response = try await post("/v1/chat/completions", json: """
            {"model": "anything", "messages": [{"role": "user", "content": "\(content)"}], "max_tokens": 8\(extra)}
            """, headers: headers)
        XCTAssertEqual(response.status, .ok, String(buffer: response.body), file: file, line: line)
        return try response.jsonObject()
    }
}

extension TestResponse {
    func jsonObject() throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any], String(buffer: body))
    }

    /// Checks an OpenAI-shaped error: the status, `error.type`, and `error.param` / `error.code` when given.
    func assertError(_ status: HTTPResponse.Status, type: String = "invalid_request_error", param: String? = nil,
                     code: String? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        XCTAssertEqual(self.status, status, String(buffer: body), file: file, line: line)
        XCTAssertEqual(headers[.contentType], "application/json", file: file, line: line)
        let json = try jsonObject()
        let error = try XCTUnwrap(json["error"] as? [String: Any], "no error object: \(json)", file: file, line: line)
        XCTAssertEqual(Set(error.keys), ["message", "type", "param", "code"], file: file, line: line)
        XCTAssertFalse((error["message"] as? String ?? "").isEmpty, file: file, line: line)
        XCTAssertEqual(error["type"] as? String, type, file: file, line: line)
        if let param { XCTAssertEqual(error["param"] as? String, param, file: file, line: line) }
        if let code { XCTAssertEqual(error["code"] as? String, code, file: file, line: line) }
    }
}

/// Server-sent events of a streamed response: the JSON of each `data:` event, and whether [DONE] closed it.
struct ServerSentEvents {
    var chunks: [[String: Any]] = []
    var done = false

    init(_ body: ByteBuffer, file: StaticString = #filePath, line: UInt = #line) throws {
        let text = String(buffer: body)
        XCTAssertTrue(text.hasSuffix("\n\n"), "events end with a blank line", file: file, line: line)
        for event in text.components(separatedBy: "\n\n") where !event.isEmpty {
            XCTAssertTrue(event.hasPrefix("data: "), "event without data: \(event)", file: file, line: line)
            XCTAssertFalse(done, "an event after [DONE]", file: file, line: line)
            let payload = String(event.dropFirst(6))
            if payload == "[DONE]" { done = true; continue }
            chunks.append(try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(payload.utf8)) as? [String: Any]))
        }
    }
}
