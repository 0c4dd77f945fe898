// RealModelPhaseTests: a BPO phase on the default model (E = 2, rank 4, all seven targets, behavior
// log-probs from the base model as the server records them for v0) lowers the training loss, and the merged
// adapter moves the policy's log-probs in the preferred direction.

import Foundation
import XCTest
import Learning
import Llama
import Inference
import ModelFiles
import ProximaNumerics
import TestSupport

final class RealModelPhaseTests: XCTestCase {
    func testAPhaseOnTheDefaultModelLowersTheLoss() throws {
        let pool = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount)
        defer { pool.shutdown() }
        let model = try ModelBundle(path: try TestPaths.defaultModel(), pool: pool)
        let t = model.tokenizer
        func prompt(_ q: String) -> [Int] { t.encode("<|im_start|>user\n\(q)<|im_end|>\n<|im_start|>assistant\n") }
        let pairs = [
            PreferencePair(prompt: prompt("What is the capital of France?"), chosen: t.encode("The capital of France is Paris.<|im_end|>"),
                           rejected: t.encode("France France France France France France")),
            PreferencePair(prompt: prompt("Name a colour."), chosen: t.encode("Blue is a colour.<|im_end|>"),
                           rejected: t.encode("I cannot answer questions about colours, numbers or anything")),
            PreferencePair(prompt: prompt("How many legs does a cat have?"), chosen: t.encode("A cat has four legs.<|im_end|>"),
                           rejected: t.encode("legs legs legs legs legs")),
            PreferencePair(prompt: prompt("Say hello."), chosen: t.encode("Hello! How can I help you today?<|im_end|>"),
                           rejected: t.encode("<|im_start|>user\nhello")),
        ]
        let batch = TrainingBatch(pairs: pairs)
        let acts = TrainingActivations(config: model.weights.config, adapterRank: 0, targets: [],
                                       maxRows: batch.rowCount, maxLogitRows: batch.logitRowCount)
        let behavior = model.weights.trainingForward(batch, adapter: nil, activations: acts, pool: pool)
        let data = zip(pairs, behavior).map { TrainingExample(pair: $0, behavior: $1) }
        var settings = PhaseSettings()
        settings.ensembleSize = 2
        settings.lora = LoRAConfiguration(rank: 4, alpha: 8)
        settings.optimizer = AdamWConfiguration(learningRate: 1e-3)
        settings.batchSize = pairs.count
        let ensemble = LoRAEnsemble(layout: LoRALayout(model: model.weights.config, lora: settings.lora), memberCount: 2, seed: 3)
        let trainer = PhaseTrainer(weights: model.weights, ensemble: ensemble, settings: settings, pool: pool)
        let reports = (0..<6).map { _ in trainer.step(data) }
        XCTAssertEqual(reports[0].loss, log(2), accuracy: 1e-4, "B = 0 at the start: the policy is the behavior policy")
        XCTAssertLessThan(reports[5].loss, reports[0].loss - 0.1, "losses \(reports.map(\.loss))")
        XCTAssertEqual(reports[5].rewardAccuracy, 1)

        // The served adapter (the exact merge) prefers the chosen responses more than the base did.
        let merged = ensemble.merged()
        let mergedActs = TrainingActivations(config: model.weights.config, adapterRank: merged.rank, targets: merged.targets,
                                             maxRows: batch.rowCount, maxLogitRows: batch.logitRowCount)
        let after = model.weights.trainingForward(batch, adapter: merged, activations: mergedActs, pool: pool)
        for (b, a) in zip(behavior, after) {
            XCTAssertGreaterThan(a.chosen - a.rejected, b.chosen - b.rejected)
        }
    }
}
