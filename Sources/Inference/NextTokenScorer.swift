// NextTokenScorer: the log-probabilities a model gives chosen tokens right after a prompt — what an LLM judge
// reads its verdict from. Prefills the prompt in chunks through the serving forward pass; one prompt at a time.

import Foundation
import Llama
import ProximaNumerics

public final class NextTokenScorer: @unchecked Sendable {
    private let weights: LlamaWeights
    private let pool: ComputePool?
    private let workspace: InferenceWorkspace
    private let lock = NSLock()
    static let chunk = 128

    public init(weights: LlamaWeights, pool: ComputePool?) {
        self.weights = weights
        self.pool = pool
        workspace = InferenceWorkspace(config: weights.config, maxRows: Self.chunk)
    }

    /// log p(token | prompt) for each of `tokens` (blocking).
    public func logProbs(after prompt: [Int], of tokens: [Int]) -> [Double] {
        precondition(!prompt.isEmpty && prompt.count <= weights.config.contextLength)
        return lock.withLock {
            let c = weights.config
            let cache = KVCache(layerCount: c.layerCount, kvDim: c.kvDim, capacity: prompt.count)
            var logits: UnsafeMutablePointer<Float>!
            for start in stride(from: 0, to: prompt.count, by: Self.chunk) {
                let end = min(prompt.count, start + Self.chunk)
                let rows = (start..<end).map { ForwardRow(token: prompt[$0], position: $0, cache: cache, wantsLogits: $0 == prompt.count - 1) }
                logits = weights.forward(rows, workspace: workspace, pool: pool)
            }
            let v = c.vocabSize
            var top = -Float.infinity
            for i in 0..<v { top = max(top, logits[i]) }
            var sum = 0.0
            for i in 0..<v { sum += exp(Double(logits[i] - top)) }
            let logZ = Double(top) + log(sum)
            return tokens.map { Double(logits[$0]) - logZ }
        }
    }
}
