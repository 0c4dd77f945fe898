// BehaviorLogprobTests: invariant 1 — the log-prob recorded for every sampled token (raw distribution,
// whatever the sampling settings) equals a batched recompute of the whole sequence within 1e-3 nats;
// batching and response pairs do not change what a sequence generates.

import XCTest
import Inference
import Llama
import ModelFiles
import ProximaCore
import Sampling
import Tokenizer

final class BehaviorLogprobTests: XCTestCase {
    private let chats = [
        [ChatMessage(role: "user", content: "Give me three tips for learning to cook.")],
        [ChatMessage(role: "system", content: "You are terse."), ChatMessage(role: "user", content: "What is a prime number?")],
        [ChatMessage(role: "user", content: "Write a haiku about rain.")],
    ]

    func testRecordedLogprobsEqualBatchedRecompute() throws {
        let model = try SharedModel.bundle()
        let config = model.weights.config
        let decoder = BatchDecoder(config: model.weights.config, pool: SharedModel.pool)
        let settings = [SamplingParameters(temperature: 1), SamplingParameters(temperature: 0.7, topP: 0.9),
                        SamplingParameters(temperature: 1.3, topK: 20, minP: 0.05), .greedy]
        var worst: Float = 0, checked = 0
        for (n, sampling) in settings.enumerated() {
            // A response pair sharing one prefill, plus two independent sequences, all batched.
            var sequences: [GenerationSequence] = []
            for (i, chat) in chats.enumerated() {
                let prompt = try model.promptTokens(for: chat)
                let parameters = GenerationParameters(sampling: sampling, maxTokens: 48, seed: UInt64(100 * n + i), stopTokens: model.stopTokens)
                let first = try GenerationSequence(prompt: prompt, parameters: parameters, config: config)
                sequences.append(first)
                if i == 0 {
                    var second = parameters
                    second.seed += 1000
                    sequences.append(try GenerationSequence(prompt: prompt, parameters: second, config: config, leader: first))
                }
            }
            try decoder.run(sequences, weights: model.weights, prefillBudget: 16)
            for s in sequences {
                XCTAssertFalse(s.tokens.isEmpty)
                let rows = ExactnessTests.logSoftmaxRows(model, s.prompt + s.tokens.map(\.id))
                for (i, token) in s.tokens.enumerated() {
                    let recomputed = rows[s.prompt.count - 1 + i][token.id]
                    worst = max(worst, abs(recomputed - token.logProb))
                    XCTAssertEqual(token.logProb, recomputed, accuracy: 1e-3, "settings \(n), position \(i)")
                    checked += 1
                }
            }
        }
        print("invariant 1: \(checked) sampled tokens, largest |recorded − recomputed| = \(String(format: "%.2e", worst)) nats")
    }

    func testBatchingDoesNotChangeGreedyOutput() throws {
        let model = try SharedModel.bundle()
        let config = model.weights.config
        let decoder = BatchDecoder(config: model.weights.config, pool: SharedModel.pool)
        let parameters = GenerationParameters(sampling: .greedy, maxTokens: 32, stopTokens: model.stopTokens)
        let prompts = try chats.map { try model.promptTokens(for: $0) }
        let alone = try prompts.map { prompt -> GenerationSequence in
            let s = try GenerationSequence(prompt: prompt, parameters: parameters, config: config)
            try decoder.run([s], weights: model.weights)
            return s
        }
        let together = try prompts.map { try GenerationSequence(prompt: $0, parameters: parameters, config: config) }
        try decoder.run(together, weights: model.weights, prefillBudget: 7)
        for (a, b) in zip(alone, together) {
            XCTAssertEqual(a.tokens.map(\.id), b.tokens.map(\.id))
            for (x, y) in zip(a.tokens, b.tokens) { XCTAssertEqual(x.logProb, y.logProb, accuracy: 1e-4) }
            XCTAssertEqual(a.finishReason, b.finishReason)
        }
    }

    /// A prompt started from a cached prefix (the template's system turn here) samples what it samples
    /// when prefilled whole; entries are per owner; the total positions stay within the bound.
    func testPrefixCacheDoesNotChangeOutput() throws {
        let model = try SharedModel.bundle()
        let config = model.weights.config
        let decoder = BatchDecoder(config: config, pool: SharedModel.pool)
        let parameters = GenerationParameters(sampling: SamplingParameters(temperature: 1), maxTokens: 24, seed: 7,
                                              stopTokens: model.stopTokens)
        let first = try model.promptTokens(for: chats[0]), second = try model.promptTokens(for: chats[2])
        let shared = zip(first, second).prefix { $0 == $1 }.count
        XCTAssertGreaterThan(shared, 10, "both prompts begin with the template's system turn")

        let cache = PrefixCache(maxPositions: 1024)
        let a = try GenerationSequence(prompt: first, parameters: parameters, config: config)
        XCTAssertEqual(cache.reuse(for: a, owner: "v1"), 0)
        try decoder.step([a], weights: model.weights)
        cache.store(a, owner: "v1")
        XCTAssertEqual(cache.positions, first.count)

        let fresh = try GenerationSequence(prompt: second, parameters: parameters, config: config)
        try decoder.run([fresh], weights: model.weights)
        let other = try GenerationSequence(prompt: second, parameters: parameters, config: config)
        XCTAssertEqual(cache.reuse(for: other, owner: "v2"), 0, "another version's keys and values are not used")
        let reused = try GenerationSequence(prompt: second, parameters: parameters, config: config)
        XCTAssertEqual(cache.reuse(for: reused, owner: "v1"), shared)
        try decoder.run([reused], weights: model.weights)
        XCTAssertEqual(reused.tokens.map(\.id), fresh.tokens.map(\.id))
        for (x, y) in zip(reused.tokens, fresh.tokens) { XCTAssertEqual(x.logProb, y.logProb, accuracy: 1e-4) }

        // The same prompt again reuses all but its last token; a prompt extending an entry replaces it.
        let again = try GenerationSequence(prompt: first, parameters: parameters, config: config)
        XCTAssertEqual(cache.reuse(for: again, owner: "v1"), first.count - 1)
        let longer = first + second.suffix(5)
        let extended = try GenerationSequence(prompt: longer, parameters: parameters, config: config)
        XCTAssertEqual(cache.reuse(for: extended, owner: "v1"), first.count)
        try decoder.step([extended], weights: model.weights)
        cache.store(extended, owner: "v1")
        XCTAssertEqual(cache.count, 1)
        XCTAssertEqual(cache.positions, longer.count)

        // Over the bound, the least recently used entries go.
        let small = PrefixCache(maxPositions: first.count + second.count - 1)
        small.store(a, owner: "v1")
        small.store(reused, owner: "v1")
        XCTAssertEqual(small.count, 1)
        XCTAssertEqual(small.positions, second.count)
        let none = PrefixCache(maxPositions: 0)
        none.store(a, owner: "v1")
        XCTAssertEqual(none.count, 0)
    }

    /// A long prompt does not hold up a short one: the prompt with the least left to prefill goes first, so a
    /// short prompt arriving while a long one prefills gets its first token in the next step.
    func testAShortPromptIsPrefilledBeforeALongOne() throws {
        let model = try SharedModel.bundle()
        let config = model.weights.config
        let decoder = BatchDecoder(config: config, pool: SharedModel.pool)
        let parameters = GenerationParameters(sampling: .greedy, maxTokens: 4, stopTokens: model.stopTokens)
        let long = try GenerationSequence(prompt: Array(repeating: 100, count: 400), parameters: parameters, config: config)
        try decoder.step([long], weights: model.weights, prefillBudget: 64)
        let short = try GenerationSequence(prompt: try model.promptTokens(for: chats[0]), parameters: parameters, config: config)
        XCTAssertLessThan(short.prompt.count, 64)
        try decoder.step([long, short], weights: model.weights, prefillBudget: 64)
        XCTAssertEqual(short.tokens.count, 1, "the short prompt was prefilled whole and sampled in one step")
        XCTAssertTrue(long.isPrefilling)
        XCTAssertEqual(long.prefilled, 64 + (64 - short.prompt.count), "the long prompt took the rows left")
    }

    func testSeedReproducesAndPairMembersDiffer() throws {
        let model = try SharedModel.bundle()
        let config = model.weights.config
        let decoder = BatchDecoder(config: model.weights.config, pool: SharedModel.pool)
        let prompt = try model.promptTokens(for: chats[0])
        func pair() throws -> [GenerationSequence] {
            let p = GenerationParameters(sampling: SamplingParameters(temperature: 1), maxTokens: 24, seed: 42, stopTokens: model.stopTokens)
            var q = p
            q.seed = 43
            let a = try GenerationSequence(prompt: prompt, parameters: p, config: config)
            return [a, try GenerationSequence(prompt: prompt, parameters: q, config: config, leader: a)]
        }
        let first = try pair(), second = try pair()
        try decoder.run(first, weights: model.weights)
        try decoder.run(second, weights: model.weights)
        XCTAssertEqual(first[0].tokens.map(\.id), second[0].tokens.map(\.id))
        XCTAssertEqual(first[1].tokens.map(\.id), second[1].tokens.map(\.id))
        XCTAssertNotEqual(first[0].tokens.map(\.id), first[1].tokens.map(\.id))
    }

    func testStopsOnEndOfTurnAndAtTheTokenLimit() throws {
        let model = try SharedModel.bundle()
        let config = model.weights.config
        let decoder = BatchDecoder(config: model.weights.config, pool: SharedModel.pool)
        let prompt = try model.promptTokens(for: [ChatMessage(role: "user", content: "What is the capital of France?")])
        let short = try GenerationSequence(prompt: prompt, parameters: GenerationParameters(sampling: .greedy, maxTokens: 3, stopTokens: model.stopTokens), config: config)
        let full = try GenerationSequence(prompt: prompt, parameters: GenerationParameters(sampling: .greedy, maxTokens: 64, stopTokens: model.stopTokens), config: config)
        try decoder.run([short, full], weights: model.weights)
        XCTAssertEqual(short.tokens.count, 3)
        XCTAssertEqual(short.finishReason, .length)
        XCTAssertEqual(full.finishReason, .stop)
        XCTAssertEqual(full.tokens.last?.id, 2, "ends with <|im_end|>")
        XCTAssertEqual(model.tokenizer.decode(full.tokens.dropLast().map(\.id)), "The capital of France is Paris.")
    }
}

final class SequenceLifetimeTests: XCTestCase {
    /// A response pair must not keep itself alive (its KV caches are megabytes).
    func testPairsAreReleased() throws {
        let config = TinyModelTests.config
        weak var leader: GenerationSequence?
        weak var follower: GenerationSequence?
        do {
            let a = try GenerationSequence(prompt: [1, 2, 3], parameters: GenerationParameters(), config: config)
            let b = try GenerationSequence(prompt: [1, 2, 3], parameters: GenerationParameters(), config: config, leader: a)
            leader = a
            follower = b
        }
        XCTAssertNil(leader)
        XCTAssertNil(follower)
    }
}
