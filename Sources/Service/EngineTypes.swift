// EngineTypes: what the HTTP layer hands the engine (a prompt and one or two samples to draw) and what it
// gets back (text deltas and, per sample, the tokens with their behavior log-probs).

import Inference
import ProximaCore
import Learning
import Llama

/// A policy the engine can serve: the base weights plus, for learned versions, the exact merge of the
/// version's LoRA ensemble, and the version id responses report. Immutable; requests admitted under it keep it
/// until they end. It holds only what serving reads: the ensemble itself (members and AdamW moments, three
/// times the merge's size) stays in the version's state file until a phase starts from it.
public final class ServingPolicy: Sendable {
    public let id: String
    public let weights: LlamaWeights
    /// The exact merge of the version's LoRA ensemble (nil for the base model).
    public let adapter: LowRankAdapter?

    public init(id: String, weights: LlamaWeights, adapter: LowRankAdapter? = nil) {
        self.id = id
        self.weights = weights
        self.adapter = adapter
    }

    /// The policy that serves `ensemble`'s merge.
    public convenience init(id: String, weights: LlamaWeights, ensemble: LoRAEnsemble) {
        self.init(id: id, weights: weights, adapter: ensemble.merged())
    }
}

/// One chat completion's work: a prompt and the samples to draw from it. The first sample is prefilled;
/// the others share its prompt (a response pair costs one prefill).
public struct EngineRequest: Sendable {
    public var promptTokens: [Int]
    public var samples: [GenerationParameters]
    /// Samples whose text is streamed as it is produced (the ones the client sees).
    public var streamedSamples: Set<Int>
    /// Text at which a sample ends (not included in its text).
    public var stopStrings: [String]
    /// The policy to serve it with instead of the serving one (a pinned version).
    public var policy: ServingPolicy?

    public init(promptTokens: [Int], samples: [GenerationParameters], streamedSamples: Set<Int>, stopStrings: [String] = []) {
        self.promptTokens = promptTokens; self.samples = samples
        self.streamedSamples = streamedSamples; self.stopStrings = stopStrings
    }
}

/// A finished sample: its tokens (with behavior log-probs), text and why it ended.
public struct SampleOutcome: Sendable {
    public var tokens: [GeneratedToken]
    /// What the client sees of them: all but a final end-of-generation token.
    public var visibleTokens: ArraySlice<GeneratedToken>
    public var text: String
    public var finishReason: FinishReason
}

extension SampleOutcome {
    /// A finished sample as its assembler saw it: after a stop string, only the tokens before the one in which
    /// it begins (text, tokens, log-probs and usage all end there); otherwise every token, the visible ones
    /// without a final end token.
    init(tokens: [GeneratedToken], finishReason: FinishReason, endToken: Bool, assembler: TextAssembler) {
        if assembler.stopped {
            let kept = Array(tokens.prefix(assembler.releasedTokens))
            self.init(tokens: kept, visibleTokens: kept[...], text: assembler.text, finishReason: .stop)
        } else {
            self.init(tokens: tokens, visibleTokens: endToken ? tokens.dropLast() : tokens[...], text: assembler.text,
                      finishReason: finishReason)
        }
    }

    init(_ sequence: GenerationSequence, assembler: TextAssembler) {
        self.init(tokens: sequence.tokens, finishReason: sequence.finishReason ?? .length,
                  endToken: sequence.visibleTokens.count < sequence.tokens.count, assembler: assembler)
    }
}

/// What the engine reports about a request, in order: admitted, text deltas, one `finished` per sample.
public enum EngineEvent: Sendable {
    /// The request got its slots; it is pinned to this policy version until it ends.
    case admitted(policyVersion: String)
    case text(sample: Int, delta: String)
    case finished(sample: Int, SampleOutcome)
}

/// Why the engine refused a request.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    /// The queue is full; the client should retry after the given number of seconds.
    case overloaded(retryAfterSeconds: Int)
    case shuttingDown
    /// This process generates no chat (it runs `--role learner`).
    case notServing

    public var description: String {
        switch self {
        case .overloaded: return "the server is at capacity; retry shortly"
        case .shuttingDown: return "the server is shutting down"
        case .notServing: return "this process serves no chat"
        }
    }
}

/// Limits of the engine: the `engine:` section of config/proxima.yaml (and the top-level `threads`).
public struct EngineConfiguration: Sendable, Equatable {
    /// Sequences decoded together (a response pair takes two).
    public var maxActiveSequences = 16
    /// Requests waiting for slots before new ones are refused.
    public var maxQueuedRequests = 64
    /// Prompt rows prefilled per step alongside the decode rows (keeps decode latency bounded).
    public var prefillChunk = 32
    /// Prompt positions whose keys and values are kept for later prompts that begin the same way (0: off).
    public var prefixCacheTokens = 1024
    /// Compute threads (not a key of this section: the top-level `threads` sets it).
    public var threads = 2

    public init() {}
}

extension EngineConfiguration: Codable {
    public enum Key: String, CodingKey, CaseIterable {
        case maxActiveSequences = "max_active_sequences", maxQueuedRequests = "max_queued_requests"
        case prefillChunk = "prefill_chunk", prefixCacheTokens = "prefix_cache_tokens"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: Key.self)
        maxActiveSequences = try c.decodeIfPresent(Int.self, forKey: .maxActiveSequences) ?? maxActiveSequences
        maxQueuedRequests = try c.decodeIfPresent(Int.self, forKey: .maxQueuedRequests) ?? maxQueuedRequests
        prefillChunk = try c.decodeIfPresent(Int.self, forKey: .prefillChunk) ?? prefillChunk
        prefixCacheTokens = try c.decodeIfPresent(Int.self, forKey: .prefixCacheTokens) ?? prefixCacheTokens
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(maxActiveSequences, forKey: .maxActiveSequences)
        try c.encode(maxQueuedRequests, forKey: .maxQueuedRequests)
        try c.encode(prefillChunk, forKey: .prefillChunk)
        try c.encode(prefixCacheTokens, forKey: .prefixCacheTokens)
    }

    /// Why these settings cannot be used, or nil.
    public var problem: SettingsError? {
        let ranges: [(Key, Int, ClosedRange<Int>)] = [(.maxActiveSequences, maxActiveSequences, 2...1024),
                                                      (.maxQueuedRequests, maxQueuedRequests, 0...100_000),
                                                      (.prefillChunk, prefillChunk, 1...4096),
                                                      (.prefixCacheTokens, prefixCacheTokens, 0...1_000_000)]
        for (key, value, range) in ranges where !range.contains(value) {
            return SettingsError(key: "engine.\(key.stringValue)", "engine.\(key.stringValue) must be in \(range) (got \(value))")
        }
        return nil
    }
}
