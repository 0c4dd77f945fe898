// TrainingGradientTests: the training forward against the inference forward, the full-model LoRA gradient
// against finite differences on a tiny model and on tiny Qwen2 / Qwen3 / Llama-3 files (every target, GQA,
// shared-prompt layout), and the same
// gradient on the real model against PyTorch + PEFT (dpo_grad_golden.json).

import Foundation
import XCTest
import Llama
import ModelFiles
import ProximaNumerics
import TestSupport

final class TrainingGradientTests: XCTestCase {
    private func randomLoRA(_ layout: LoRALayout, seed: UInt64, scale: Float) -> LoRATensors {
        var rng = TinyModelTests.RNG(state: seed)
        let t = LoRATensors(layout: layout)
        for i in 0..<layout.count { t.storage.pointer[i] = rng.float(scale) }
        return t
    }

    private let pairs = [
        PreferencePair(prompt: [3, 17, 42, 5], chosen: [7, 8, 9, 2], rejected: [11, 2]),
        PreferencePair(prompt: [50, 1], chosen: [33], rejected: [60, 61, 62]),
    ]

    /// The tiny Llama of TinyModelTests and the Qwen2 / Qwen3 / Llama-3 files of FamilyGoldenTests (q/k/v biases,
    /// head norms with q wider than the embedding, RoPE frequency factors, untied heads).
    private func models(pool: ComputePool, tied: Bool) throws -> [(String, LlamaWeights)] {
        var models = [("tiny llama", TinyModelTests.makeWeights(tied: tied, pool: pool))]
        for family in ["qwen2", "qwen3", "llama3"] {
            let file = try GGUFFile(path: FamilyGoldenTests.directory.appendingPathComponent("\(family).gguf").path)
            models.append((family, try LlamaWeights(gguf: file, pool: pool)))
        }
        return models
    }

    /// The training forward's log-probs equal teacher-forced inference log-probs.
    func testTrainingForwardMatchesInference() throws {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        for (name, w) in try models(pool: pool, tied: false) {
            let layout = LoRALayout(model: w.config, lora: LoRAConfiguration(rank: 4, alpha: 8))
            let lora = randomLoRA(layout, seed: 5, scale: 0.05)
            let batch = TrainingBatch(pairs: pairs)
            let acts = TrainingActivations(config: w.config, adapterRank: 4, targets: layout.lora.targets, maxRows: 32, maxLogitRows: 32)
            let scores = w.trainingForward(batch, adapter: lora, activations: acts, pool: pool)
            let ws = InferenceWorkspace(config: w.config, maxRows: 16)
            for (pair, score) in zip(pairs, scores) {
                for (response, expected) in [(pair.chosen, score.chosen), (pair.rejected, score.rejected)] {
                    let tokens = pair.prompt + response
                    let cache = KVCache(config: w.config)
                    let logits = w.forward(tokens.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: true) },
                                           adapter: lora, workspace: ws, pool: pool)
                    var sum = 0.0
                    for (i, t) in response.enumerated() {
                        let row = logits + (pair.prompt.count - 1 + i) * w.config.vocabSize
                        sum += Double(row[t] - logSumExp(row, w.config.vocabSize))
                    }
                    XCTAssertEqual(sum, expected, accuracy: 1e-4, name)
                }
            }
        }
    }

    /// dL/dθ for L = Σ_p (g_c · log π(chosen) + g_r · log π(rejected)) against finite differences.
    func testLoRAGradientMatchesFiniteDifferences() throws {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        for (name, w) in try models(pool: pool, tied: true) {
            let layout = LoRALayout(model: w.config, lora: LoRAConfiguration(rank: 3, alpha: 6))
            let lora = randomLoRA(layout, seed: 9, scale: 0.1)
            let batch = TrainingBatch(pairs: pairs)
            let acts = TrainingActivations(config: w.config, adapterRank: 3, targets: layout.lora.targets, maxRows: 32, maxLogitRows: 32)
            let g = [PairLogProbGradients(chosen: 0.7, rejected: -1.3), PairLogProbGradients(chosen: -0.4, rejected: 0.9)]
            func loss() -> Double {
                zip(w.trainingForward(batch, adapter: lora, activations: acts, pool: pool), g).reduce(0.0) {
                    $0 + Double($1.1.chosen) * $1.0.chosen + Double($1.1.rejected) * $1.0.rejected
                }
            }
            _ = loss()
            let grads = LoRATensors(layout: layout)
            w.trainingBackward(batch, dLogProbs: g, lora: lora, gradients: grads, activations: acts, pool: pool)
            var rng = TinyModelTests.RNG(state: 77)
            var worst = 0.0
            for layer in 0..<w.config.layerCount {
                for role in LinearRole.allCases {
                    for matrix in 0..<2 {
                        let base = matrix == 0 ? lora.a(layer: layer, role: role)! : lora.b(layer: layer, role: role)!
                        let grad = matrix == 0 ? grads.a(layer: layer, role: role)! : grads.b(layer: layer, role: role)!
                        let (input, output) = w.config.shape(of: role)
                        let count = 3 * (matrix == 0 ? input : output)
                        for _ in 0..<3 {
                            let i = Int(rng.next() % UInt64(count))
                            // The five-point stencil (error O(h⁴)) allows a step large enough to stand well above the fp32 noise of
                            // the loss (the family files have peaked outputs, whose loss sums are tens of nats).
                            let saved = base[i], h: Float = 4e-2
                            func at(_ k: Float) -> Double { base[i] = saved + k * h; return loss() }
                            let numeric = (-at(2) + 8 * at(1) - 8 * at(-1) + at(-2)) / (12 * Double(h))
                            base[i] = saved
                            let error = abs(numeric - Double(grad[i])) / max(1e-2, abs(numeric))
                            worst = max(worst, error)
                            XCTAssertLessThan(error, 2e-2, "\(name) layer \(layer) \(role) \(matrix == 0 ? "A" : "B")[\(i)]: \(grad[i]) vs \(numeric)")
                        }
                    }
                }
            }
            print("\(name): LoRA gradient vs finite differences: largest relative error \(String(format: "%.2e", worst))")
        }
    }

    /// Gradients accumulate over micro-batches: two halves add up to the whole batch.
    func testMicroBatchesAccumulate() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let w = TinyModelTests.makeWeights(tied: false, pool: pool)
        let layout = LoRALayout(model: w.config, lora: LoRAConfiguration(rank: 2, alpha: 2, targets: [.query, .down]))
        let lora = randomLoRA(layout, seed: 3, scale: 0.1)
        let acts = TrainingActivations(config: w.config, adapterRank: 2, targets: layout.lora.targets, maxRows: 32, maxLogitRows: 32)
        let g = [PairLogProbGradients(chosen: 1, rejected: -1), PairLogProbGradients(chosen: 0.5, rejected: -2)]
        let whole = LoRATensors(layout: layout), parts = LoRATensors(layout: layout)
        let batch = TrainingBatch(pairs: pairs)
        _ = w.trainingForward(batch, adapter: lora, activations: acts, pool: pool)
        w.trainingBackward(batch, dLogProbs: g, lora: lora, gradients: whole, activations: acts, pool: pool)
        for i in pairs.indices {
            let one = TrainingBatch(pairs: [pairs[i]])
            _ = w.trainingForward(one, adapter: lora, activations: acts, pool: pool)
            w.trainingBackward(one, dLogProbs: [g[i]], lora: lora, gradients: parts, activations: acts, pool: pool)
        }
        for i in 0..<layout.count { XCTAssertEqual(whole.storage.pointer[i], parts.storage.pointer[i], accuracy: 1e-5) }
    }
}
