// ChatSession: one running chat completion: reads the engine's events, passes on the text of the shown
// responses, and once every sample (the hidden one too) has ended, logs the request before reporting it done.

import Foundation
import Inference
import ProximaCore
import Tokenizer

// MARK: - Session

/// A queued chat completion. Read its events with one `events()` iterator, in one task. A client that goes
/// away calls `cancel()`: the engine frees the slots and the request is not logged (it was never delivered).
public struct ChatSession: Sendable {
    let service: ChatService
    let handle: EngineHandle
    /// The completion id (`chatcmpl-…`), what a thumb refers to as `response_id`.
    public let id: String
    /// The pair id (`pair-…`) when a second sample is drawn, what a choice refers to.
    public let pairID: String?
    public let request: ChatRequest
    public let promptTokens: [Int]
    let sampling: SamplingRecord
    let sampleCount: Int
    public let created: Date
    let started = ContinuousClock.now

    /// Stops generation (the client went away). Safe to call at any time, more than once.
    public func cancel() { handle.cancel() }

    /// A `cancel` that does not keep the session alive (for callbacks that may outlive it, such as a
    /// keep-alive connection's close future).
    public func cancellation() -> @Sendable () -> Void {
        { [weak handle] in handle?.cancel() }
    }

    /// The session's events; call once.
    public func events() -> ChatEventIterator { ChatEventIterator(session: self) }
}

// MARK: - Events

/// Reads a session's events: `admitted`, text deltas, then `completed` after the request was logged.
public struct ChatEventIterator {
    private let session: ChatSession
    private var engineEvents: AsyncStream<EngineEvent>.Iterator
    private var outcomes: [SampleOutcome?]
    private var policyVersion: String?
    private var done = false

    init(session: ChatSession) {
        self.session = session
        engineEvents = session.handle.events.makeAsyncIterator()
        outcomes = Array(repeating: nil, count: session.sampleCount)
    }

    /// The next event, or nil after `completed`. Throws `cancelled` when the session was cancelled,
    /// `generationFailed` when the engine dropped it, `loggingFailed` when the store refused it.
    public mutating func next() async throws(ChatError) -> ChatEvent? {
        guard !done else { return nil }
        while let event = await engineEvents.next() {
            switch event {
            case let .admitted(version):
                policyVersion = version
                return .admitted(policyVersion: version)
            case let .text(sample, delta):
                if sample < session.request.n { return .text(choice: sample, delta: delta) }
            case let .finished(sample, outcome):
                outcomes[sample] = outcome
            }
        }
        done = true
        let finished = outcomes.compactMap { $0 }
        let cancelled = session.handle.cancelled.load(ordering: .relaxed)
        guard let policyVersion, finished.count == outcomes.count,
              !finished.contains(where: { $0.finishReason == .cancelled }) else {
            throw cancelled ? .cancelled : .generationFailed
        }
        let completion = try await log(finished, policyVersion: policyVersion)
        session.service.latency.recordNanoseconds(Int64((ContinuousClock.now - session.started) / .nanoseconds(1)))
        return .completed(completion)
    }

    // MARK: Logging

    /// Writes the request and its samples in one transaction; returns the completion the client sees.
    private func log(_ outcomes: [SampleOutcome], policyVersion: String) async throws(ChatError) -> ChatCompletion {
        let request = session.request
        let record = RequestRecord(id: session.id, pairID: session.pairID, createdAt: session.created,
                                   apiKeyID: request.apiKeyID, policyVersion: policyVersion,
                                   messages: request.messages, promptTokenIDs: session.promptTokens,
                                   sampling: session.sampling, n: request.n, stream: request.stream, status: .completed,
                                   clientRef: request.clientRef)
        let samples = outcomes.enumerated().map { i, outcome in
            SampleRecord(index: i, tokenIDs: outcome.tokens.map(\.id), logprobs: outcome.tokens.map(\.logProb),
                         text: outcome.text, finishReason: outcome.finishReason,
                         shown: i < request.n)
        }
        // A request that must not teach is not logged: no feedback can name it, no phase can train on it.
        if request.learn {
            do {
                try await session.service.store.logRequest(record, samples: samples)
            } catch {
                throw .loggingFailed("\(error)")
            }
        }
        if record.pairID != nil { session.service.onPairLogged() }
        let choices = outcomes.prefix(request.n).enumerated().map { i, outcome in
            ChatChoice(index: i, text: outcome.text, finishReason: outcome.finishReason, tokenCount: outcome.tokens.count,
                       logprobs: request.logprobs ? reported(outcome) : nil)
        }
        return ChatCompletion(id: session.id, pairID: session.pairID, created: session.created,
                              policyVersion: policyVersion, choices: Array(choices), promptTokens: session.promptTokens.count)
    }

    /// The per-token log-probs a client sees: every generated token but a final end token.
    private func reported(_ outcome: SampleOutcome) -> [ReportedToken] {
        let model = session.service.model
        return outcome.visibleTokens.map { token in
            let bytes = model.tokenizer.bytes(of: token.id)
            return ReportedToken(token: String(decoding: bytes, as: UTF8.self), bytes: bytes, logprob: token.logProb,
                                 top: token.top.map { alternative in
                                     let bytes = model.tokenizer.bytes(of: alternative.id)
                                     return ReportedAlternative(token: String(decoding: bytes, as: UTF8.self), bytes: bytes,
                                                                logprob: alternative.logProb)
                                 })
        }
    }
}
