// GreedyEvaluatorTests: the gate's greedy replies come back in prompt order and do not depend on how many
// prompts decode at once (continuous batching refills a finished reply's place at once).

import Foundation
import Inference
import ProximaNumerics
import Service
import TestModels
import XCTest

final class GreedyEvaluatorTests: XCTestCase {
    func testRepliesAreThoseOfOnePromptAtATimeInPromptOrder() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-greedy-\(UUID().uuidString).gguf").path
        try TinyChatModel.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let model = try ModelBundle(path: path, pool: pool)
        let prompts = ["hello", "a longer question about the weather today", "x", "two words", "why?", "count to ten", "ok"]
        let policy = ServingPolicy(id: "v0", weights: model.weights)
        // Replies of different lengths (max_tokens 1 to 12 stop some early), so places free up at different steps.
        let alone = try GreedyEvaluator(model: model, pool: pool, lease: nil, prompts: prompts, maxTokens: 12, batchSize: 1).replies(of: policy)
        for batch in [2, 3, 16] {
            let together = try GreedyEvaluator(model: model, pool: pool, lease: nil, prompts: prompts, maxTokens: 12, batchSize: batch)
                .replies(of: policy)
            XCTAssertEqual(together, alone, "batch \(batch)")
        }
        XCTAssertEqual(alone.count, prompts.count)
        XCTAssertTrue(alone.contains { !$0.text.isEmpty })
    }
}
