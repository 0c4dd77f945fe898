// The text targets: Jinja chat templates (a GGUF file's template is parsed and rendered for every request),
// and the JSON bodies of the HTTP API, sent through the real router of a whole application (tiny model, real
// engine, in-memory store) — an input passes when the answer is not a 5xx.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Logging
import Prometheus
import ProximaApp
import ProximaCore
import ProximaNumerics
import Inference
import ModelFiles
import Service
import Simulators
import ChatTemplate
import TestModels

/// Jinja chat templates, parsed and rendered for a short conversation.
public struct TemplateTarget: FuzzTarget {
    public let name = "jinja"
    public let maxSize = 1 << 14
    public init() {}

    /// The templates of real models kept for the template tests.
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("ChatTemplateTests/Fixtures/chat_templates")

    public func seeds() throws -> [[UInt8]] {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.path).filter { $0.hasSuffix(".jinja") }.sorted()
        return try names.map { [UInt8](try Data(contentsOf: Self.fixtures.appendingPathComponent($0))) } + [Array(TinyChatModel.template.utf8)]
    }

    public var dictionary: [[UInt8]] {
        ["{%", "%}", "{{", "}}", "{#", "#}", "{%-", "-%}", " for ", " in ", " endfor ", " if ", " elif ", " else ", " endif ", " set ",
         " macro ", " endmacro ", " call ", " filter ", " namespace(", "loop.index", "messages", "message['content']", "range(",
         "raise_exception(", " | ", "tojson", "length", "trim", "~", "[", "]", "(", ")", ".", ",", "'", "\"", "\\", "*", "**", "//",
         " not ", " and ", " or ", " is ", "defined", "9999999999", "-1", "[::-1]", "strftime_now(", "add_generation_prompt"].map { Array($0.utf8) }
    }

    static let messages = [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi {{ 7*7 }}"),
                           ChatMessage(role: "assistant", content: "Hello."), ChatMessage(role: "user", content: "Again?")]

    public func session(_ drive: @Sendable (@Sendable ([UInt8]) async throws -> FuzzOutcome) async throws -> Void) async throws {
        try await drive { input in
            do {
                let template = try ChatTemplate(String(decoding: input, as: UTF8.self))
                _ = try template.render(messages: Self.messages, addGenerationPrompt: true,
                                        variables: ["bos_token": .string("<s>"), "eos_token": .string("</s>")],
                                        now: TemplateDate(year: 2026, month: 12, day: 6, hour: 12, minute: 0, second: 0))
                return .accepted
            } catch {
                return .refused
            }
        }
    }
}

/// The JSON bodies of the API's POST routes, through the whole application. Stop a long run with SIGKILL or
/// let it finish: SIGTERM shuts the application down first, and its 503s are not findings.
public struct HTTPBodyTarget: FuzzTarget {
    public let name = "http-json"
    public let maxSize = 1 << 13
    public init() {}

    /// The routes an input may go to: its first byte picks one, the rest is the body.
    static let routes = ["/v1/chat/completions", "/v1/feedback", "/admin/phases", "/v1/chat/completions"]

    public func seeds() throws -> [[UInt8]] {
        [(0, #"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}], "max_tokens": 4, "n": 2, "temperature": 0.7, "top_p": 0.9, "seed": 3, "stop": ["x"], "logprobs": true, "top_logprobs": 2}"#),
         (3, #"{"model": "proxima", "messages": [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}], "stream": true, "max_completion_tokens": 3, "stream_options": {"include_usage": true}}"#),
         (1, #"{"response_id": "chatcmpl-000000000000000000000000", "rating": "up", "comment": "ok", "event_id": "e1"}"#),
         (1, #"{"pair_id": "pair-000000000000000000000000", "choice": "tie"}"#),
         (2, #"{"steps": 1, "rank": 2, "ensemble": 1, "batch_size": 2, "loss": "ipo", "beta": 0.2, "reference": "soft:0.5"}"#)]
            .map { [UInt8($0.0)] + Array($0.1.utf8) }
    }

    public var dictionary: [[UInt8]] {
        ["\"messages\"", "\"role\"", "\"content\"", "\"user\"", "\"assistant\"", "\"system\"", "\"max_tokens\"", "\"n\"", "\"stream\"",
         "\"temperature\"", "\"top_p\"", "\"seed\"", "\"stop\"", "\"logprobs\"", "\"top_logprobs\"", "\"choice\"", "\"rating\"",
         "\"steps\"", "\"rank\"", "\"ensemble\"", "true", "false", "null", "1e309", "-0", "9223372036854775808", "0.5", "[]", "{}",
         "\"\\u0000\"", "\"\\ud800\"", "<|im_start|>", "<|im_end|>", ":", ","].map { Array($0.utf8) }
    }

    public func session(_ drive: @Sendable (@Sendable ([UInt8]) async throws -> FuzzOutcome) async throws -> Void) async throws {
        let pool = ComputePool(threads: 1)
        defer { pool.shutdown() }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-fuzz-http-\(getpid()).gguf").path
        try TinyChatModel.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try ModelBundle(path: path, pool: pool)
        var settings = ServeSettings()
        settings.learner.automatic = false
        settings.learner.gatePromptCount = 2
        settings.learner.gateMaxTokens = 2
        settings.learner.phase.steps = 1
        settings.chat.maxTokensLimit = 16
        var logger = Logger(label: "fuzz")
        logger.logLevel = .critical
        let registry = PrometheusCollectorRegistry()
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-fuzz-policies-\(getpid())")
        defer { try? FileManager.default.removeItem(at: policies) }
        let dependencies = ServerDependencies(model: model, modelSHA256: String(repeating: "c", count: 64), store: InMemoryProximaStore(),
                                              pool: pool, policyFiles: PolicyDirectory(policies), judge: try RubricSimulator(),
                                              metrics: registry, metricsFactory: ProximaAPI.metricsFactory(registry: registry), logger: logger)
        let server = try await buildApplication(settings, dependencies)
        try await server.app.test(.router) { client in
            try await drive { input in
                guard let first = input.first else { return .refused }
                let route = Self.routes[Int(first) % Self.routes.count]
                let response = try await client.execute(uri: route, method: .post, headers: [.contentType: "application/json"],
                                                        body: ByteBuffer(bytes: input.dropFirst()))
                // 503 is the documented answer of a full queue or a server shutting down (a run stopped with
                // SIGTERM shuts the application down gracefully); any other 5xx is a bug.
                let status = response.status.code
                if status >= 500 && status != 503 {
                    throw FuzzFinding("\(route) answered \(status): \(String(buffer: response.body).prefix(300))")
                }
                return status < 300 ? .accepted : .refused
            }
        }
    }
}
