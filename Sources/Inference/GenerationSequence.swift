// GenerationSequence: one sampled continuation of a prompt: its parameters, random stream, KV cache and
// the tokens generated so far with their behavior log-probs (raw distribution, temperature 1).

import Llama
import ProximaCore
import Sampling

/// What to generate and how.
public struct GenerationParameters: Sendable, Equatable {
    public var sampling: SamplingParameters
    public var maxTokens: Int
    public var seed: UInt64
    /// Sampling one of these ends the sequence with `.stop` (the token is kept as the last one).
    public var stopTokens: Set<Int>
    /// How many of the most likely tokens (raw log-probs) to report per position; 0 for none.
    public var topLogprobs: Int

    public init(sampling: SamplingParameters = SamplingParameters(), maxTokens: Int = 256, seed: UInt64 = 0,
                stopTokens: Set<Int> = [], topLogprobs: Int = 0) {
        self.sampling = sampling; self.maxTokens = maxTokens; self.seed = seed
        self.stopTokens = stopTokens; self.topLogprobs = topLogprobs
    }
}

/// A generated token with its log-prob under the model's raw distribution (the behavior log-prob).
public struct GeneratedToken: Sendable, Equatable {
    public var id: Int
    public var logProb: Float
    public var top: [TokenLogProb]

    public init(id: Int, logProb: Float, top: [TokenLogProb] = []) {
        self.id = id; self.logProb = logProb; self.top = top
    }
}

/// One sequence being generated. Owned by one batch loop at a time.
public final class GenerationSequence: @unchecked Sendable {
    public let prompt: [Int]
    public let parameters: GenerationParameters
    public let cache: KVCache
    public private(set) var tokens: [GeneratedToken] = []
    public private(set) var finishReason: FinishReason?
    /// A sequence that shares this one's prompt: it is not prefilled itself but forks the leader's cache
    /// and samples its first token from the same logits (the two samples of a response pair).
    public let leader: GenerationSequence?
    /// Held weakly: a follower holds its leader, and a cycle would keep both caches alive forever.
    private var followerLinks: [WeakSequence] = []
    var followers: [GenerationSequence] { followerLinks.compactMap(\.sequence) }
    /// Prompt tokens already in the cache.
    public internal(set) var prefilled = 0
    var sampler: TokenSampler
    var generator: SeededGenerator

    /// Creates a sequence; `leader` makes it share that sequence's prompt prefill.
    public init(prompt: [Int], parameters: GenerationParameters, config: LlamaConfig,
                leader: GenerationSequence? = nil) throws(SamplingError) {
        precondition(!prompt.isEmpty, "a prompt needs at least one token")
        precondition(leader == nil || leader!.prompt == prompt, "a follower shares its leader's prompt")
        self.prompt = prompt
        self.parameters = parameters
        self.leader = leader
        sampler = try TokenSampler(parameters: parameters.sampling)
        generator = SeededGenerator(seed: parameters.seed)
        cache = KVCache(config: config, capacity: min(config.contextLength, prompt.count + min(parameters.maxTokens, 4096)))
        leader?.followerLinks.append(WeakSequence(sequence: self))
        if parameters.maxTokens <= 0 { finishReason = .length }
    }

    public var isFinished: Bool { finishReason != nil }

    /// The generated tokens a reader sees: all of them but a final end-of-generation token.
    public var visibleTokens: ArraySlice<GeneratedToken> {
        if finishReason == .stop, let last = tokens.last, parameters.stopTokens.contains(last.id) { return tokens.dropLast() }
        return tokens[...]
    }
    public var isPrefilling: Bool { leader == nil && prefilled < prompt.count }

    /// Stops the sequence; it takes no more batch rows.
    public func cancel() { if finishReason == nil { finishReason = .cancelled } }

    /// Ends the sequence as complete (a stop string matched its text).
    public func stop() { if finishReason == nil { finishReason = .stop } }

    /// Starts the prefill after the first `count` prompt positions, whose keys and values are copied from
    /// `source` (computed by the same weights for the same tokens; see `PrefixCache`). At least the prompt's
    /// last token is left to run, for its logits.
    public func startPrefill(after count: Int, copying source: KVCache) {
        precondition(leader == nil && prefilled == 0 && count < prompt.count, "a prefix must leave the prompt's last token")
        cache.copy(from: source, positions: count)
        prefilled = count
    }

    // MARK: Used by the batch step

    /// Samples the next token from `logits` and decides whether the sequence is done.
    func accept(logits: UnsafeBufferPointer<Float>, contextLength: Int) throws(SamplingError) {
        let sampled = try sampler.sample(logits, using: &generator)
        let top = parameters.topLogprobs > 0 ? try LogProbabilities.topLogprobs(logits, count: parameters.topLogprobs) : []
        tokens.append(GeneratedToken(id: sampled.id, logProb: sampled.logProb, top: top))
        if parameters.stopTokens.contains(sampled.id) {
            finishReason = .stop
        } else if tokens.count >= parameters.maxTokens || prompt.count + tokens.count >= contextLength {
            finishReason = .length
        }
    }
}

/// A weak reference to a sequence.
private struct WeakSequence {
    weak var sequence: GenerationSequence?
}
