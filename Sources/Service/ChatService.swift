// ChatService: the application layer of chat completions: checks a request, renders the prompt with the
// model's chat template, decides the samples (the shown response and the hidden second one of its pair),
// submits them to the engine and hands back a session that streams text and logs the request when done.

import Foundation
import Inference
import Metrics
import Sampling
import ProximaCore
import Tokenizer

// MARK: - Service

/// Starts chat completions on the engine and logs them to the store.
///
/// Ids: a completion is `chatcmpl-<24 random alphanumerics>`; when it sampled a pair, the pair is
/// `pair-<the same 24 characters>`. Seeds: a request seed `s` draws sample 0 with `s` and sample 1 with
/// `s + 1` (wrapping); without a seed, `s` is random per request. The seed is logged with the request.
public final class ChatService: Sendable {
    public let model: ModelBundle
    public let engine: any ChatEngine
    public let store: any ProximaStore
    public let configuration: ChatConfiguration
    let latency: Metrics.Timer
    /// Runs after a request with a pair was logged (it rings the learner's doorbell when a labeller waits for pairs).
    let onPairLogged: @Sendable () -> Void
    /// When requests are created, as logged.
    let clock: any WallClock

    /// `metricsFactory` makes the end-to-end latency histogram (the global factory when nil).
    public init(model: ModelBundle, engine: any ChatEngine, store: any ProximaStore, configuration: ChatConfiguration,
                metricsFactory: (any MetricsFactory)? = nil, clock: any WallClock = SystemWallClock(),
                onPairLogged: @escaping @Sendable () -> Void = {}) {
        self.onPairLogged = onPairLogged
        self.clock = clock
        self.model = model
        self.engine = engine
        self.store = store
        self.configuration = configuration
        latency = Metrics.Timer(label: "proxima_chat_completion_duration_seconds", dimensions: [],
                                factory: metricsFactory ?? MetricsSystem.factory)
    }

    /// The model's context length in tokens.
    public var contextLength: Int { model.weights.config.contextLength }

    /// Checks `request`, renders its prompt and queues its samples. Throws `invalidParameter` or
    /// `contextLengthExceeded` for a bad request, `overloaded` when the queue is full, `shuttingDown` after
    /// shutdown began. Nothing is logged until the session completes.
    public func start(_ request: ChatRequest) throws(ChatError) -> ChatSession {
        try check(request)
        let prompt = try promptTokens(for: request.messages)
        let maxTokens = try effectiveMaxTokens(request.maxTokens, promptTokens: prompt.count)
        let seed = request.seed ?? UInt64.random(in: 0...UInt64.max)
        // A greedy request's hidden twin would repeat it token for token: a pair the learner must drop. A request
        // that must not teach gets no hidden sample.
        let sampleCount = request.n == 2 || (request.learn && configuration.pairing && request.sampling.temperature > 0) ? 2 : 1
        let samples = (0..<sampleCount).map { i in
            GenerationParameters(sampling: request.sampling, maxTokens: maxTokens, seed: seed &+ UInt64(i),
                                 stopTokens: model.stopTokens, topLogprobs: request.logprobs ? request.topLogprobs : 0)
        }
        let streamed: Set<Int> = request.stream ? Set(0..<request.n) : []
        let handle: EngineHandle
        do {
            var engineRequest = EngineRequest(promptTokens: prompt, samples: samples, streamedSamples: streamed, stopStrings: request.stop)
            engineRequest.policy = request.pinned
            handle = try engine.submit(engineRequest)
        } catch {
            switch error {
            case let .overloaded(seconds): throw .overloaded(retryAfterSeconds: seconds)
            case .shuttingDown: throw .shuttingDown
            case .notServing: throw .notServing
            }
        }
        let suffix = Self.randomSuffix()
        let record = SamplingRecord(temperature: Double(request.sampling.temperature), topP: Double(request.sampling.topP),
                                    topK: request.sampling.topK, minP: Double(request.sampling.minP),
                                    maxTokens: maxTokens, seed: seed, stop: request.stop)
        return ChatSession(service: self, handle: handle, id: "chatcmpl-" + suffix,
                           pairID: sampleCount == 2 && request.learn ? "pair-" + suffix : nil, request: request, promptTokens: prompt,
                           sampling: record, sampleCount: sampleCount, created: clock.now())
    }

    // MARK: Checks

    private func check(_ request: ChatRequest) throws(ChatError) {
        guard !request.messages.isEmpty else {
            throw .invalidParameter(name: "messages", message: "messages must contain at least one message")
        }
        for (i, message) in request.messages.enumerated() where !ChatConfiguration.acceptedRoles.contains(message.role) {
            throw .invalidParameter(name: "messages[\(i)].role",
                                    message: "unsupported role '\(message.role)' in messages[\(i)]; use system, user or assistant")
        }
        guard request.n == 1 || request.n == 2 else {
            throw .invalidParameter(name: "n", message: "n must be 1 or 2 (got \(request.n))")
        }
        do {
            try request.sampling.validate()
        } catch {
            if case let .invalidParameter(name, value, hint) = error {
                throw .invalidParameter(name: name, message: "invalid \(name) = \(value): \(hint)")
            }
            throw .invalidParameter(name: "temperature", message: error.description)
        }
        guard request.stop.count <= ChatConfiguration.maxStopStrings else {
            throw .invalidParameter(name: "stop", message: "stop takes at most \(ChatConfiguration.maxStopStrings) strings (got \(request.stop.count))")
        }
        if let ref = request.clientRef, !(1...StoreRules.maxClientRefLength).contains(ref.utf8.count) {
            throw .invalidParameter(name: "proxima.client_ref", message: "proxima.client_ref must be 1 to \(StoreRules.maxClientRefLength) bytes (got \(ref.utf8.count))")
        }
        guard (0...ChatConfiguration.maxTopLogprobs).contains(request.topLogprobs) else {
            throw .invalidParameter(name: "top_logprobs", message: "top_logprobs must be in 0...\(ChatConfiguration.maxTopLogprobs) (got \(request.topLogprobs))")
        }
        guard request.topLogprobs == 0 || request.logprobs else {
            throw .invalidParameter(name: "top_logprobs", message: "top_logprobs requires logprobs to be true")
        }
        if let maxTokens = request.maxTokens {
            guard maxTokens >= 1 else {
                throw .invalidParameter(name: "max_tokens", message: "max_tokens must be at least 1 (got \(maxTokens))")
            }
            guard maxTokens <= configuration.maxTokensLimit else {
                throw .invalidParameter(name: "max_tokens",
                                        message: "max_tokens is \(maxTokens), more than this server's limit of \(configuration.maxTokensLimit)")
            }
        }
    }

    private func promptTokens(for messages: [ChatMessage]) throws(ChatError) -> [Int] {
        let rendered = messages.map { ChatMessage(role: $0.role == "developer" ? "system" : $0.role, content: $0.content) }
        do {
            return try model.promptTokens(for: rendered)
        } catch {
            switch error {
            case let .tooLong(tokens, context): throw .contextLengthExceeded(promptTokens: tokens, maxTokens: nil, contextLength: context)
            case .empty: throw .invalidParameter(name: "messages", message: "the messages render to an empty prompt")
            case let .controlText(index): throw .invalidParameter(name: "messages[\(index)].content", message: error.description)
            case .template: throw .invalidParameter(name: "messages", message: "the model's chat template refused these messages: \(error)")
            }
        }
    }

    /// The request's max_tokens, checked against the context; without one, the default clamped to the room left.
    private func effectiveMaxTokens(_ requested: Int?, promptTokens: Int) throws(ChatError) -> Int {
        let room = contextLength - promptTokens
        guard let requested else { return min(configuration.defaultMaxTokens, room) }
        guard requested <= room else {
            throw .contextLengthExceeded(promptTokens: promptTokens, maxTokens: requested, contextLength: contextLength)
        }
        return requested
    }

    private static let alphabet = Array("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")

    /// 24 random alphanumerics (~143 bits) from the system generator.
    static func randomSuffix() -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<24).map { _ in alphabet.randomElement(using: &generator)! })
    }
}
