// TrainBenchmark: `proxima bench --train` — the time of one BPO training step on synthetic pairs, the
// configuration bench/ compares with PyTorch + PEFT (E members, rank r, all seven targets, P-token prompts,
// R-token responses).

import Foundation
import Learning
import Llama
import ModelFiles
import Inference
import ProximaNumerics

struct TrainBenchmark {
    var pairs = 16
    var promptTokens = 64
    var responseTokens = 96
    var ensemble = 5
    var rank = 16
    var steps = 2

    /// Runs `steps` + 1 steps (the first warms up) and returns the mean seconds per step after it; `profile`
    /// gets the timed steps' time by kind of work.
    func run(model: ModelBundle, pool: ComputePool, profile: StepProfile? = nil, report: (String) -> Void) -> Double {
        let c = model.weights.config
        var settings = PhaseSettings()
        settings.ensembleSize = ensemble
        settings.lora = LoRAConfiguration(rank: rank)
        settings.batchSize = pairs
        settings.optimizer = AdamWConfiguration(learningRate: 2e-4)
        let token = { (i: Int) in 100 + (i * 7919) % (c.vocabSize - 100) }
        let examples = (0..<pairs).map { p in
            TrainingExample(pair: PreferencePair(prompt: (0..<promptTokens).map { token($0 + 1000 * p) },
                                                 chosen: (0..<responseTokens).map { token($0 * 3 + 17 * p) },
                                                 rejected: (0..<responseTokens).map { token($0 * 5 + 31 * p) }),
                            behavior: PairLogProbs(chosen: -200, rejected: -210, chosenTokens: responseTokens, rejectedTokens: responseTokens))
        }
        let trainer = PhaseTrainer(weights: model.weights, ensemble: LoRAEnsemble(layout: LoRALayout(model: c, lora: settings.lora),
                                                                                 memberCount: ensemble, seed: 1),
                                   settings: settings, pool: pool)
        var total = 0.0
        for s in 0...steps {
            if s == 1 { profile?.reset(); trainer.profile = profile }
            let t0 = Date()
            let r = trainer.step(examples)
            let dt = Date().timeIntervalSince(t0)
            report(String(format: "training step %d: %.2f s (loss %.4f)%@", s, dt, r.loss, s == 0 ? " — warm-up" : ""))
            if s > 0 { total += dt }
        }
        return total / Double(steps)
    }
}
