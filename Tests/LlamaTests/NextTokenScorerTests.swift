// NextTokenScorerTests: the log-probs an LLM judge reads (the serving forward, prefilled in chunks) equal the
// training forward's log-prob of the same one-token responses, on a prompt longer than a chunk.

import Foundation
import Inference
import Llama
import ModelFiles
import ProximaNumerics
import TestModels
import XCTest

final class NextTokenScorerTests: XCTestCase {
    func testLogProbsEqualTheTrainingForwardsOnALongPrompt() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-scorer-\(UUID().uuidString).gguf").path
        try TinyChatModel.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let model = try ModelBundle(path: path, pool: pool)
        let prompt = (0..<300).map { 32 + ($0 * 7) % 90 }   // more than two 128-row chunks
        let candidates = [65, 66, 258, 10]
        let scored = NextTokenScorer(weights: model.weights, pool: pool).logProbs(after: prompt, of: candidates)
        let batch = TrainingBatch(groups: candidates.map { PromptResponses(prompt: prompt, responses: [[$0]]) })
        let acts = TrainingActivations(config: model.weights.config, adapterRank: 0, targets: [], maxRows: batch.rowCount,
                                       maxLogitRows: batch.logitRowCount)
        let reference = model.weights.trainingForwardSequences(batch, adapter: nil, activations: acts, pool: pool).map(\.logProb)
        for (s, r) in zip(scored, reference) { XCTAssertEqual(s, r, accuracy: 2e-3) }
        XCTAssertEqual(scored.map { exp($0) }.reduce(0, +), reference.map { exp($0) }.reduce(0, +), accuracy: 1e-3)
        XCTAssertTrue(scored.allSatisfy { $0 < 0 && $0.isFinite })
    }
}
