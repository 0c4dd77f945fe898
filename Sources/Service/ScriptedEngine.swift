// ScriptedEngine: the engine's twin for tests. Each sample of a request gets the tokens (with the log-probs)
// a script says, at once, so that tests can check what the service does with exactly known samples — what it
// logs as behavior log-probs, returns, streams, pairs and trains on — without running a model.

import Foundation
import Inference
import ProximaCore
import Synchronization
import Tokenizer

public final class ScriptedEngine: ChatEngine, Sendable {
    /// One sample's tokens with their log-probs; an end token (one of the request's stop tokens) last makes
    /// it finish with `.stop`, otherwise `.length`.
    public typealias Script = @Sendable (_ request: EngineRequest, _ sample: Int) -> [(id: Int, logProb: Float)]

    private let script: Script
    private let tokenizer: BPETokenizer
    private let current: Mutex<ServingPolicy>
    /// Every request submitted so far, in order.
    public var requests: [EngineRequest] { submitted.withLock { $0 } }
    private let submitted = Mutex<[EngineRequest]>([])

    public init(policy: ServingPolicy, tokenizer: BPETokenizer, script: @escaping Script) {
        current = Mutex(policy)
        self.tokenizer = tokenizer
        self.script = script
    }

    public var policy: ServingPolicy { current.withLock { $0 } }

    public func setPolicy(_ policy: ServingPolicy) { current.withLock { $0 = policy } }

    public func submit(_ request: EngineRequest) throws(EngineError) -> EngineHandle {
        submitted.withLock { $0.append(request) }
        let (events, continuation) = AsyncStream<EngineEvent>.makeStream()
        continuation.yield(.admitted(policyVersion: policy.id))
        for (index, parameters) in request.samples.enumerated() {
            let scripted = script(request, index).prefix(parameters.maxTokens)
            let tokens = scripted.map { GeneratedToken(id: $0.id, logProb: $0.logProb, top: []) }
            let ended = tokens.last.map { parameters.stopTokens.contains($0.id) } ?? false
            let visible = ended ? tokens.dropLast() : tokens[...]
            let text = tokenizer.decode(visible.map(\.id))
            if request.streamedSamples.contains(index), !text.isEmpty { continuation.yield(.text(sample: index, delta: text)) }
            continuation.yield(.finished(sample: index, SampleOutcome(tokens: Array(tokens), visibleTokens: visible, text: text,
                                                                       finishReason: ended ? .stop : .length)))
        }
        continuation.finish()
        return EngineHandle(events: events, wake: {})
    }
}
