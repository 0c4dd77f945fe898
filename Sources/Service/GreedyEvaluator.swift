// GreedyEvaluator: the gate's measurement. Greedy replies of two policies to held-out prompts, judged pair by
// pair by a preference simulator; a win counts 1, a tie ½. Generation runs in batches on the shared cores,
// taking the compute lease one decode step at a time so chat keeps priority.

import Foundation
import Inference
import Llama
import ProximaNumerics
import Sampling
import ProximaCore
import Tokenizer

/// One greedy reply.
public struct GreedyReply: Codable, Sendable, Equatable {
    public var text: String
    public var finished: Bool
}

/// Win rate of a candidate against a baseline.
public struct EvaluationResult: Codable, Sendable, Equatable {
    public var prompts: Int
    public var wins: Int
    public var ties: Int
    public var losses: Int
    public var winRate: Double { prompts == 0 ? 0 : (Double(wins) + 0.5 * Double(ties)) / Double(prompts) }

    enum CodingKeys: String, CodingKey { case prompts, wins, ties, losses, winRate = "win_rate" }
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(prompts, forKey: .prompts); try c.encode(wins, forKey: .wins)
        try c.encode(ties, forKey: .ties); try c.encode(losses, forKey: .losses); try c.encode(winRate, forKey: .winRate)
    }
    public init(prompts: Int, wins: Int, ties: Int, losses: Int) {
        self.prompts = prompts; self.wins = wins; self.ties = ties; self.losses = losses
    }
    /// The tally of per-prompt verdicts (a: the candidate).
    public init(_ choices: [Verdict.Choice]) {
        self.init(prompts: choices.count, wins: choices.count { $0 == .a }, ties: choices.count { $0 == .tie },
                  losses: choices.count { $0 == .b })
    }
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(prompts: try c.decode(Int.self, forKey: .prompts), wins: try c.decode(Int.self, forKey: .wins),
                  ties: try c.decode(Int.self, forKey: .ties), losses: try c.decode(Int.self, forKey: .losses))
    }
}

/// Greedy generation for evaluation, with the replies of the last few versions cached (they are deterministic;
/// a gate compares a candidate with the serving version, whose replies the previous gate computed).
public final class GreedyEvaluator: @unchecked Sendable {
    public let prompts: [String]
    public let maxTokens: Int
    private let model: ModelBundle
    private let decoder: BatchDecoder
    private let lease: ComputeLease?
    private let batchSize: Int
    /// Replies by version, most recent last, at most `cacheLimit`; the initial version's are never evicted
    /// (every gate also compares with it).
    private var cache: [(id: String, replies: [GreedyReply])] = []
    private let lock = NSLock()
    static let cacheLimit = 4
    /// Prompt tokens prefilled per step: each step holds the cores (serving waits for it), and 128 took half a
    /// second here, 32 up to 0.3 s, 16 under 0.2 s.
    static let prefillBudget = 16

    public init(model: ModelBundle, pool: ComputePool, lease: ComputeLease?, prompts: [String], maxTokens: Int = 96, batchSize: Int = 16) {
        self.model = model
        self.prompts = prompts
        self.maxTokens = maxTokens
        self.lease = lease
        self.batchSize = batchSize
        decoder = BatchDecoder(config: model.weights.config, pool: pool, maxRows: batchSize + Self.prefillBudget)
    }

    /// The greedy replies of `policy` to every prompt (blocking; call off the async executor). Continuous
    /// batching: up to `batchSize` prompts decode at once, and a finished one's place goes to the next prompt at
    /// once (a batch does not wait for its longest reply).
    public func replies(of policy: ServingPolicy) throws -> [GreedyReply] {
        if let cached = lock.withLock({ cache.last(where: { $0.id == policy.id })?.replies }) { return cached }
        var replies = [GreedyReply?](repeating: nil, count: prompts.count)
        var active: [(index: Int, sequence: GenerationSequence)] = []
        var next = 0
        let parameters = GenerationParameters(sampling: .greedy, maxTokens: maxTokens, stopTokens: model.stopTokens)
        while next < prompts.count || !active.isEmpty {
            while active.count < batchSize && next < prompts.count {
                let ids = try model.promptTokens(for: [ChatMessage(role: "user", content: prompts[next])])
                active.append((next, try GenerationSequence(prompt: ids, parameters: parameters, config: model.weights.config)))
                next += 1
            }
            lease?.acquireForLearning()
            defer { lease?.release() }
            try decoder.step(active.map(\.sequence), weights: policy.weights, adapter: policy.adapter, prefillBudget: Self.prefillBudget)
            for (i, s) in active where s.isFinished {
                replies[i] = GreedyReply(text: model.tokenizer.decode(s.visibleTokens.map(\.id)), finished: s.finishReason == .stop)
            }
            active.removeAll { $0.sequence.isFinished }
        }
        let all = replies.map { $0! }
        remember(all, as: policy.id)
        return all
    }

    /// Files the replies computed for `candidate` under `version` too (a published candidate keeps its replies).
    public func rename(_ candidate: String, to version: String) {
        if let replies = lock.withLock({ cache.last(where: { $0.id == candidate })?.replies }) { remember(replies, as: version) }
    }

    private func remember(_ replies: [GreedyReply], as id: String) {
        lock.withLock {
            cache.removeAll { $0.id == id }
            cache.append((id, replies))
            while cache.count > Self.cacheLimit, let oldest = cache.firstIndex(where: { $0.id != PolicyVersionRecord.initialID }) {
                cache.remove(at: oldest)
            }
        }
    }

    /// Judges `candidate`'s replies against `baseline`'s with `simulator` (a: candidate, b: baseline).
    public func compare(_ candidate: [GreedyReply], _ baseline: [GreedyReply], simulator: any PreferenceSimulator,
                        seed: UInt64 = 0) async throws -> EvaluationResult {
        EvaluationResult(try await verdicts(candidate, baseline, simulator: simulator, seed: seed))
    }

    /// The verdict on each prompt, candidate as `a` and baseline as `b`.
    public func verdicts(_ candidate: [GreedyReply], _ baseline: [GreedyReply], simulator: any PreferenceSimulator,
                         seed: UInt64 = 0) async throws -> [Verdict.Choice] {
        var rng = SeededGenerator(seed: seed)
        var choices: [Verdict.Choice] = []
        for (i, prompt) in prompts.enumerated() {
            let verdict = try await simulator.judge(prompt: prompt, a: Candidate(text: candidate[i].text, finished: candidate[i].finished),
                                                    b: Candidate(text: baseline[i].text, finished: baseline[i].finished), rng: &rng)
            choices.append(verdict.choice)
        }
        return choices
    }
}
