// ScriptedEngine: the engine's twin for tests. Each sample of a request gets the tokens (with the log-probs)
// a script says, at once, cut by stop strings as the engine cuts them, so that tests can check what the service
// does with exactly known samples — what it logs as behavior log-probs, returns, streams, pairs and trains on —
// without running a model.

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
            let endToken = tokens.last.map { parameters.stopTokens.contains($0.id) } ?? false
            // Stop strings as the engine applies them: the same assembler, the same cut.
            var assembler = TextAssembler(tokenizer: tokenizer, stops: request.stopStrings)
            var taken = 0
            for token in endToken ? tokens.dropLast() : tokens[...] {
                taken += 1
                if assembler.push(token.id).stopped { break }
            }
            _ = assembler.finish()
            let outcome = SampleOutcome(tokens: Array(tokens.prefix(assembler.stopped ? taken : tokens.count)),
                                        finishReason: endToken || assembler.stopped ? .stop : .length, endToken: endToken && !assembler.stopped,
                                        assembler: assembler)
            if request.streamedSamples.contains(index), !outcome.text.isEmpty { continuation.yield(.text(sample: index, delta: outcome.text)) }
            continuation.yield(.finished(sample: index, outcome))
        }
        continuation.finish()
        return EngineHandle(events: events, wake: {})
    }
}
