// EngineTypes: what the HTTP layer hands the engine (a prompt and one or two samples to draw) and what it
// gets back (text deltas and, per sample, the tokens with their behavior log-probs).

import Inference
import Learning
import Llama

/// A policy the engine can serve: the base weights plus, for learned versions, the merged ensemble, and the
/// version id responses report. Immutable; requests admitted under it keep it until they end.
public final class ServingPolicy: Sendable {
    public let id: String
    public let weights: LlamaWeights
    /// The exact merge of the version's LoRA ensemble (nil for the base model).
    public let adapter: LowRankAdapter?
    /// The ensemble the next phase continues from (nil for the base model).
    public let ensemble: LoRAEnsemble?

    public init(id: String, weights: LlamaWeights, ensemble: LoRAEnsemble? = nil) {
        self.id = id
        self.weights = weights
        self.ensemble = ensemble
        adapter = ensemble?.merged()
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

    public init(promptTokens: [Int], samples: [GenerationParameters], streamedSamples: Set<Int>, stopStrings: [String] = []) {
        self.promptTokens = promptTokens; self.samples = samples
        self.streamedSamples = streamedSamples; self.stopStrings = stopStrings
    }
}

/// A finished sample: its tokens (with behavior log-probs), text and why it ended.
public struct SampleOutcome: Sendable {
    public var tokens: [GeneratedToken]
    public var text: String
    public var finishReason: FinishReason
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

    public var description: String {
        switch self {
        case .overloaded: return "the server is at capacity; retry shortly"
        case .shuttingDown: return "the server is shutting down"
        }
    }
}

/// Limits of the engine.
public struct EngineConfiguration: Sendable {
    /// Sequences decoded together (a response pair takes two).
    public var maxActiveSequences = 16
    /// Requests waiting for slots before new ones are refused.
    public var maxQueuedRequests = 64
    /// Prompt rows prefilled per step alongside the decode rows (keeps decode latency bounded).
    public var prefillChunk = 128
    /// Prompt positions whose keys and values are kept for later prompts that begin the same way (0: off).
    public var prefixCacheTokens = 1024
    /// Compute threads.
    public var threads = 2

    public init() {}
}
