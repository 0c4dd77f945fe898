// BatchDecoder: one step of continuous batching: a decode row for every running sequence plus prompt
// chunks of sequences still prefilling, in one forward pass; then one sampled token per sequence that
// reached a next-token position.

import Llama
import ProximaNumerics
import Sampling

/// Runs batched generation steps for many sequences. Not thread-safe: one owner. The weights are given per
/// step, so sequences pinned to different policy versions can share one decoder (one step per version).
public final class BatchDecoder: @unchecked Sendable {
    public let config: LlamaConfig
    public let pool: ComputePool?
    public let workspace: InferenceWorkspace

    /// `maxRows` bounds the rows of one forward pass (decode rows plus prompt chunk).
    public init(config: LlamaConfig, pool: ComputePool?, maxRows: Int = 256) {
        self.config = config
        self.pool = pool
        workspace = InferenceWorkspace(config: config, maxRows: maxRows)
    }

    /// Prompt positions at which a prompt token's attention costs as much time as its matrix products. In
    /// FLOPs that is 2·(weights of the blocks) / (4·heads·headDim), 3,072 for SmolLM2-135M; but prefill attention
    /// (sgemm over keys, then a softmax) runs at about 0.45× the matrix products' rate: the cost of a 128-row
    /// chunk per row grew as 1 + p/1,370 from p = 0 to 7,000 (`proxima bench` with per-chunk timing, AMD EPYC
    /// with AVX2, 2 threads, 2026-12-07).
    private var attentionBalance: Double {
        let c = config
        let weights = 2 * c.dim * c.dim + 2 * c.kvDim * c.dim + 3 * c.dim * c.ffnDim
        return 0.45 * Double(2 * weights) / Double(4 * c.headCount * c.headDim)
    }

    /// The most prompt tokens to prefill from position `p` in one step: the budget while attention is cheap,
    /// then fewer, so that a chunk deep into a long prompt costs at most 1.5× a chunk at its start (a step
    /// holds up every running request's next token).
    func chunkLimit(at p: Int, budget: Int) -> Int {
        guard budget < .max else { return .max }
        return max(1, min(budget, Int(Double(budget) * 1.5 / (1 + Double(p) / attentionBalance))))
    }

    /// One step with `weights`. Every unfinished sequence that has a pending token gets a decode row;
    /// prompts are prefilled with the rows left (at most `prefillBudget`, fewer deep into a long prompt: see
    /// `chunkLimit`), the one with the least left to prefill first, so a long prompt delays a short one by at
    /// most one step. Returns the sequences that
    /// received a new token in this step.
    @discardableResult
    public func step(_ sequences: [GenerationSequence], weights: LlamaWeights, adapter: (any LinearAdapter)? = nil,
                     prefillBudget: Int = .max) throws(SamplingError) -> [GenerationSequence] {
        precondition(weights.config == config, "weights of another model shape")
        for s in sequences where s.tokens.isEmpty && s.leader?.finishReason == .cancelled { s.cancel() }
        var rows: [ForwardRow] = []
        var owners: [GenerationSequence] = []   // for each row that wants logits
        for s in sequences where !s.isFinished && !s.isPrefilling && !s.tokens.isEmpty && rows.count < workspace.maxRows {
            rows.append(ForwardRow(token: s.tokens.last!.id, position: s.cache.length, cache: s.cache, wantsLogits: true))
            owners.append(s)
        }
        var budget = min(prefillBudget, workspace.maxRows - rows.count)
        let prefilling = sequences.filter { $0.isPrefilling && !$0.isFinished }
            .sorted { $0.prompt.count - $0.prefilled < $1.prompt.count - $1.prefilled }
        for s in prefilling where budget > 0 {
            let n = min(budget, s.prompt.count - s.prefilled, chunkLimit(at: s.prefilled, budget: prefillBudget))
            for i in 0..<n {
                let p = s.prefilled + i
                rows.append(ForwardRow(token: s.prompt[p], position: p, cache: s.cache, wantsLogits: p == s.prompt.count - 1))
            }
            if s.prefilled + n == s.prompt.count { owners.append(s) }
            s.prefilled += n
            budget -= n
        }
        if rows.isEmpty { return [] }

        let logits = weights.forward(rows, adapter: adapter, workspace: workspace, pool: pool)
        let vocab = config.vocabSize
        let context = config.contextLength
        var failures = [SamplingError?](repeating: nil, count: owners.count)
        failures.withUnsafeMutableBufferPointer { buffer in
            let failures = buffer
            let sample = { (i: Int) in
                let s = owners[i]
                let row = UnsafeBufferPointer(start: logits + i * vocab, count: vocab)
                do throws(SamplingError) {
                    // A prompt just completed: followers fork its cache and sample from the same row.
                    if s.tokens.isEmpty {
                        for f in s.followers where !f.isFinished {
                            f.cache.copy(from: s.cache)
                            try f.accept(logits: row, contextLength: context)
                        }
                    }
                    try s.accept(logits: row, contextLength: context)
                } catch { failures[i] = error }
            }
            if let pool, owners.count > 1 { pool.parallelFor(owners.count, sample) } else { for i in owners.indices { sample(i) } }
        }
        if let failure = failures.lazy.compactMap({ $0 }).first { throw failure }
        var updated: [GenerationSequence] = []
        for s in owners {
            updated.append(s)
            if s.tokens.count == 1 { updated += s.followers.filter { $0.tokens.count == 1 } }
        }
        return updated
    }

    /// Generates until every sequence is finished: the decode loop of the commands and tests that run a fixed set
    /// of sequences (the serving engine admits and drops sequences between steps, the gate refills its batch);
    /// `onToken` sees each sequence that received a token.
    public func run(_ sequences: [GenerationSequence], weights: LlamaWeights, adapter: (any LinearAdapter)? = nil,
                    prefillBudget: Int = .max, onToken: (GenerationSequence) -> Void = { _ in }) throws(SamplingError) {
        while sequences.contains(where: { !$0.isFinished }) {
            for s in try step(sequences, weights: weights, adapter: adapter, prefillBudget: prefillBudget) { onToken(s) }
        }
    }
}
