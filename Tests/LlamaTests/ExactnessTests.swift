// ExactnessTests: the real model against independent implementations of the same math. PyTorch fp32 on the
// dequantised weights is the exactness reference (tokens equal, log-probs within 2e-3 nats); llama.cpp on
// the Q4_1 file quantises activations, so agreement with it is reported and checked only loosely.

import Foundation
import TestModels
import XCTest
import Inference
import Llama
import ModelFiles
import ProximaNumerics
import Sampling
import TestSupport

final class ExactnessTests: XCTestCase {
    /// Log-softmax of every position of `prompt + continuation` in one forward pass (teacher forcing):
    /// entry i is the distribution after token i of the whole sequence.
    static func logSoftmaxRows(_ model: ModelBundle, _ tokens: [Int]) -> [[Float]] {
        let config = model.weights.config
        let cache = KVCache(config: config, capacity: tokens.count)
        let workspace = InferenceWorkspace(config: config, maxRows: tokens.count)
        let rows = tokens.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: true) }
        let logits = model.weights.forward(rows, workspace: workspace, pool: SharedModel.pool)
        return (0..<tokens.count).map { r in
            let row = logits + r * config.vocabSize
            let lse = logSumExp(row, config.vocabSize)
            return (0..<config.vocabSize).map { row[$0] - lse }
        }
    }

    func testPromptTokensEqualBothGoldens() throws {
        let model = try SharedModel.bundle()
        for file in ["torch_fp32_greedy.json", "llamacpp_greedy_q4_1.json"] {
            for c in try GoldenFiles.cases(file) {
                XCTAssertEqual(try model.promptTokens(for: c.messages), c.promptIDs, "\(file): \(c.messages.last!.content)")
                XCTAssertEqual(model.tokenizer.encode(c.promptText), c.promptIDs)
            }
        }
    }

    /// Greedy decoding (end-of-generation suppressed, as the golden did) reproduces PyTorch's tokens, and
    /// every position's log-probs (chosen and top five) are within 2e-3 nats.
    func testGreedyDecodeMatchesPyTorchFP32() throws {
        let model = try SharedModel.bundle()
        let config = model.weights.config
        let decoder = BatchDecoder(config: model.weights.config, pool: SharedModel.pool)
        var worst = 0.0, positions = 0
        for c in try GoldenFiles.cases("torch_fp32_greedy.json") {
            // Step-by-step decode through the serving path, suppressing 0, 2 and 4 like the golden.
            let cache = KVCache(config: config)
            var rows = c.promptIDs.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: $0.offset == c.promptIDs.count - 1) }
            for (i, expected) in c.greedyIDs.enumerated() {
                let logits = model.weights.forward(rows, workspace: decoder.workspace, pool: SharedModel.pool)
                let lse = Double(logSumExp(logits, config.vocabSize))
                var best = -1
                for t in 0..<config.vocabSize where ![0, 2, 4].contains(t) && (best < 0 || logits[t] > logits[best]) { best = t }
                let gap = c.top5[i].count > 1 ? c.top5[i][0].logprob - c.top5[i][1].logprob : 1
                if best != expected {
                    XCTAssertLessThan(gap, 1e-3, "case '\(c.messages.last!.content)' position \(i): \(best) ≠ golden \(expected)")
                }
                for (id, lp) in c.top5[i] {
                    let mine = Double(logits[id]) - lse
                    worst = max(worst, abs(mine - lp))
                    XCTAssertEqual(mine, lp, accuracy: 2e-3, "position \(i) token \(id)")
                }
                positions += 1
                rows = [ForwardRow(token: expected, position: c.promptIDs.count + i, cache: cache, wantsLogits: true)]
            }
        }
        print("PyTorch fp32 golden: \(positions) positions, largest log-prob gap \(String(format: "%.2e", worst)) nats")
    }

    /// The same comparison in one batched forward pass per case (the learner's path).
    func testBatchedRecomputeMatchesPyTorchFP32() throws {
        let model = try SharedModel.bundle()
        var worst = 0.0
        for c in try GoldenFiles.cases("torch_fp32_greedy.json") {
            let rows = Self.logSoftmaxRows(model, c.promptIDs + c.greedyIDs)
            for i in c.greedyIDs.indices {
                for (id, lp) in c.top5[i] { worst = max(worst, abs(Double(rows[c.promptIDs.count - 1 + i][id]) - lp)) }
            }
        }
        XCTAssertLessThan(worst, 2e-3)
        print("PyTorch fp32 golden, batched recompute: largest log-prob gap \(String(format: "%.2e", worst)) nats")
    }

    /// llama.cpp: F32-expanded weights agree closely; its Q4_1 kernels (8-bit activations) only loosely.
    /// Bounds are on the greedy (chosen) token's log-prob; the top-five gaps are reported too.
    func testAgreementWithLlamaCpp() throws {
        let model = try SharedModel.bundle()
        for (file, bound) in [("llamacpp_greedy_f32expanded.json", 0.01), ("llamacpp_greedy_q4_1.json", 0.5)] {
            var chosenGap = 0.0, topGap = 0.0, sameArgmax = 0, positions = 0
            for c in try GoldenFiles.cases(file) {
                let rows = Self.logSoftmaxRows(model, c.promptIDs + c.greedyIDs)
                for i in c.greedyIDs.indices {
                    let row = rows[c.promptIDs.count - 1 + i]
                    chosenGap = max(chosenGap, abs(Double(row[c.greedyIDs[i]]) - c.logprobs[i]))
                    for (id, lp) in c.top5[i] { topGap = max(topGap, abs(Double(row[id]) - lp)) }
                    let mine = row.indices.filter { ![0, 2, 4].contains($0) }.max { row[$0] < row[$1] }!
                    if mine == c.greedyIDs[i] { sameArgmax += 1 }
                    positions += 1
                }
            }
            print("\(file): largest gap \(String(format: "%.4f", chosenGap)) nats on the greedy token, \(String(format: "%.4f", topGap)) over the top five; same greedy token at \(sameArgmax)/\(positions) positions (teacher-forced)")
            XCTAssertLessThan(chosenGap, bound, file)
        }
    }

    /// The golden LoRA (r = 4, α = 8 on q and v, deterministic values) applied at matmul time reproduces
    /// llama.cpp's F32 model with that adapter at scales 1 and 30 (llama.cpp multiplies α/r by the scale).
    /// llama.cpp is not the exactness reference (its F32 path differs from PyTorch by up to ~0.007 nats
    /// without an adapter, and a 30× adapter amplifies that); the adapter math itself is pinned by the
    /// PEFT gradient golden and the training-equals-inference test.
    func testInferenceWithAdapterMatchesLlamaCpp() throws {
        let model = try SharedModel.bundle()
        let c = model.weights.config
        for (file, scale, bound) in [("llamacpp_greedy_f32_lora_s1.json", Float(1), 0.015), ("llamacpp_greedy_f32_lora_s30.json", 30, 0.04)] {
            let layout = LoRALayout(model: c, lora: LoRAConfiguration(rank: 4, alpha: 8 * scale, targets: [.query, .value]))
            let lora = GoldenLoRA.tensors(layout)
            var worst = 0.0
            for g in try GoldenFiles.cases(file) {
                let tokens = g.promptIDs + g.greedyIDs
                let cache = KVCache(config: c, capacity: tokens.count)
                let workspace = InferenceWorkspace(config: c, maxRows: tokens.count)
                let logits = model.weights.forward(tokens.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: true) },
                                                   adapter: lora, workspace: workspace, pool: SharedModel.pool)
                for i in g.greedyIDs.indices {
                    let row = logits + (g.promptIDs.count - 1 + i) * c.vocabSize
                    let mine = Double(row[g.greedyIDs[i]] - logSumExp(row, c.vocabSize))
                    worst = max(worst, abs(mine - g.logprobs[i]))
                }
            }
            print("\(file): largest gap on the greedy token \(String(format: "%.4f", worst)) nats")
            XCTAssertLessThan(worst, bound, file)
        }
    }
}
