// PrefillChunkTests: deep into a long prompt, a step prefills fewer tokens, so that no step — which every running
// request's next token waits for — costs much more than a chunk at the start of a prompt.

import Foundation
import Inference
import Llama
import ModelFiles
import Sampling
import TestModels
import XCTest

final class PrefillChunkTests: XCTestCase {
    func testChunksShrinkWhereAttentionCostsMoreThanTheWeights() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-chunks-\(UUID().uuidString).gguf").path
        try TinyChatModel.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try ModelBundle(path: path, pool: nil)
        let c = model.weights.config
        // Positions at which a token's attention costs as much time as its matrix products: 288 in FLOPs for this
        // model, times the 0.45 by which prefill attention runs slower than the products (measured: BatchDecoder).
        let blockWeights: Int = 2 * c.dim * c.dim + 2 * c.kvDim * c.dim + 3 * c.dim * c.ffnDim
        let balance = 0.45 * Double(2 * blockWeights) / Double(4 * c.headCount * c.headDim)
        let decoder = BatchDecoder(config: c, pool: nil, maxRows: 128)
        let long = try GenerationSequence(prompt: (0..<500).map { 3 + $0 % 200 }, parameters: GenerationParameters(sampling: .greedy, maxTokens: 2),
                                          config: c)
        let budget = 64
        var chunks: [(start: Int, count: Int)] = []
        while long.isPrefilling {
            let start = long.prefilled
            try decoder.step([long], weights: model.weights, prefillBudget: budget)
            chunks.append((start, long.prefilled - start))
        }
        func cost(_ chunk: (start: Int, count: Int)) -> Double {
            (0..<chunk.count).reduce(0) { $0 + 1 + Double(chunk.start + $1) / balance }
        }
        XCTAssertEqual(chunks.first?.count, budget, "the budget while attention is cheap")
        XCTAssertEqual(chunks.reduce(0) { $0 + $1.count }, 500)
        XCTAssertLessThan(chunks.dropLast().last!.count, budget * 2 / 3, "fewer tokens deep into the prompt")
        let first = cost(chunks[0])
        for chunk in chunks { XCTAssertLessThanOrEqual(cost(chunk), 1.6 * first, "chunk at \(chunk.start)") }
        XCTAssertEqual(long.tokens.count, 1, "sampled after the last chunk")
    }
}
