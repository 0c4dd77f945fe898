// PairSampler: two responses per prompt from a policy, the way the paper's loop collects preference data —
// temperature 1, each response with its own seed from the caller's generator, both decoded together (the
// second shares the first's prompt cache).

import Inference
import Llama
import ProximaCore
import Sampling
import Service

public struct SampledPair {
    public var prompt: String
    public var a: GenerationSequence
    public var b: GenerationSequence

    /// Response `s` as the judge sees it: its text, and whether it ended on its own.
    public func candidate(_ s: GenerationSequence, _ model: ModelBundle) -> Candidate {
        Candidate(text: model.tokenizer.decode(s.visibleTokens.map(\.id)), finished: s.finishReason == .stop)
    }

    /// Whether the two responses are the same tokens (no preference to learn).
    public var identical: Bool { a.tokens.map(\.id) == b.tokens.map(\.id) }
}

public enum PairSampler {
    /// `count` prompts drawn from `prompts` with `generator`, a pair each.
    public static func sample(drawing count: Int, from prompts: [String], model: ModelBundle, decoder: BatchDecoder,
                              adapter: (any LinearAdapter)?, maxTokens: Int, generator: inout SeededGenerator) throws -> [SampledPair] {
        try sample(count: count, model: model, decoder: decoder, adapter: adapter, maxTokens: maxTokens, generator: &generator) {
            prompts[Int($0.next() % UInt64(prompts.count))]
        }
    }

    /// A pair for each of `prompts`, in order.
    public static func sample(_ prompts: [String], model: ModelBundle, decoder: BatchDecoder, adapter: (any LinearAdapter)?,
                              maxTokens: Int, generator: inout SeededGenerator) throws -> [SampledPair] {
        var next = 0
        return try sample(count: prompts.count, model: model, decoder: decoder, adapter: adapter, maxTokens: maxTokens,
                          generator: &generator) { _ in defer { next += 1 }; return prompts[next] }
    }

    private static func sample(count: Int, model: ModelBundle, decoder: BatchDecoder, adapter: (any LinearAdapter)?, maxTokens: Int,
                               generator: inout SeededGenerator, prompt nextPrompt: (inout SeededGenerator) -> String) throws -> [SampledPair] {
        var pairs: [SampledPair] = []
        for _ in 0..<count {
            let prompt = nextPrompt(&generator)
            let ids = try model.promptTokens(for: [ChatMessage(role: "user", content: prompt)])
            var p = GenerationParameters(sampling: SamplingParameters(temperature: 1), maxTokens: maxTokens,
                                         seed: generator.next(), stopTokens: model.stopTokens)
            let a = try GenerationSequence(prompt: ids, parameters: p, config: model.weights.config)
            p.seed = generator.next()
            pairs.append(SampledPair(prompt: prompt, a: a, b: try GenerationSequence(prompt: ids, parameters: p, config: model.weights.config, leader: a)))
        }
        try decoder.run(pairs.flatMap { [$0.a, $0.b] }, weights: model.weights, adapter: adapter, prefillBudget: 256)
        return pairs
    }
}
