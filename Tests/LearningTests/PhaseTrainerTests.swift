// PhaseTrainerTests: an ensemble trained on a few pairs lowers its loss under every reference mode and loss;
// members start different (their own seeds) and stay different; the merge is the exact mean of the deltas;
// the batch schedule visits every pair.

import Foundation
import XCTest
import Learning
import Llama
import ProximaNumerics

final class PhaseTrainerTests: XCTestCase {
    static let config = LlamaConfig(layerCount: 2, dim: 32, ffnDim: 64, headCount: 2, kvHeadCount: 1, headDim: 16,
                                    vocabSize: 40, contextLength: 64, ropeBase: 10_000, normEps: 1e-5)

    static func tinyWeights(pool: ComputePool) -> LlamaWeights {
        var state: UInt64 = 1
        func r(_ s: Float) -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return s * (Float(state >> 40) / Float(1 << 24) * 2 - 1)
        }
        let c = config
        func m(_ rows: Int, _ cols: Int) -> LinearWeight {
            let v = (0..<(rows * cols)).map { _ in r(0.3) }
            return v.withUnsafeBytes { LinearWeight(rows: rows, cols: cols, type: .f32, bytes: $0.baseAddress!, pool: pool) }
        }
        let layers = (0..<c.layerCount).map { _ in
            LlamaLayerWeights(attentionNorm: FloatBuffer([Float](repeating: 1, count: c.dim)), query: m(c.dim, c.dim), key: m(c.kvDim, c.dim),
                              value: m(c.kvDim, c.dim), output: m(c.dim, c.dim), ffnNorm: FloatBuffer([Float](repeating: 1, count: c.dim)),
                              gate: m(c.ffnDim, c.dim), up: m(c.ffnDim, c.dim), down: m(c.dim, c.ffnDim))
        }
        let embedding = m(c.vocabSize, c.dim)
        return LlamaWeights(config: c, tokenEmbedding: embedding, layers: layers,
                            outputNorm: FloatBuffer([Float](repeating: 1, count: c.dim)), outputHead: embedding)
    }

    private func examples(_ w: LlamaWeights, pool: ComputePool) -> [TrainingExample] {
        let pairs = [
            PreferencePair(prompt: [1, 2, 3], chosen: [4, 5, 6, 7], rejected: [8, 9]),
            PreferencePair(prompt: [10, 11], chosen: [12, 13], rejected: [14, 15, 16]),
            PreferencePair(prompt: [20, 21, 22, 23], chosen: [24], rejected: [25, 26]),
            PreferencePair(prompt: [30], chosen: [31, 32, 33], rejected: [34, 35, 36]),
        ]
        // Behavior log-probs from the base model itself (what the server records for v0).
        let batch = TrainingBatch(pairs: pairs)
        let acts = TrainingActivations(config: w.config, adapterRank: 0, targets: [], maxRows: 64, maxLogitRows: 64)
        return zip(pairs, w.trainingForward(batch, adapter: nil, activations: acts, pool: pool)).map {
            TrainingExample(pair: $0, behavior: $1)
        }
    }

    func testEveryLossAndReferenceModeReducesTheLoss() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let w = Self.tinyWeights(pool: pool)
        let data = examples(w, pool: pool)
        for loss in PreferenceLoss.allCases {
            for reference in [ReferenceMode.behavior, .initial, .softUpdate(alpha: 0.5), .hardUpdate(tau: 3)] {
                var settings = PhaseSettings()
                settings.loss = loss
                settings.reference = reference
                settings.ensembleSize = 2
                settings.lora = LoRAConfiguration(rank: 2, alpha: 4)
                settings.optimizer = AdamWConfiguration(learningRate: 1e-2)
                settings.microBatchRows = 12   // several micro-batches per step
                let ensemble = LoRAEnsemble(layout: LoRALayout(model: w.config, lora: settings.lora), memberCount: 2, seed: 7)
                let trainer = PhaseTrainer(weights: w, ensemble: ensemble, settings: settings, pool: pool)
                let first = trainer.step(data)
                var last = first
                for _ in 0..<16 { last = trainer.step(data) }   // the last step is 2 after a hard update (τ = 3)
                if reference == .behavior || reference == .initial {
                    XCTAssertLessThan(last.loss, first.loss, "\(loss) \(reference)")
                }
                XCTAssertGreaterThan(last.rewardAccuracy, 0.5, "\(loss) \(reference)")
                XCTAssertTrue(last.loss.isFinite && last.gradientNorm.isFinite)
            }
        }
    }

    /// KTO through the whole model: a member's gradient of the batch's mean loss (pairs and single thumbs mixed)
    /// against central differences of that loss. Behavior log-probs of 0 put every log-ratio below 0, so z₀ is
    /// clipped to 0 and does not move with the parameters.
    func testKTOGradientMatchesFiniteDifferences() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let w = Self.tinyWeights(pool: pool)
        var settings = PhaseSettings()
        settings.loss = .kto
        settings.ensembleSize = 1
        settings.beta = 0.5
        settings.undesirableWeight = 1.5
        settings.lora = LoRAConfiguration(rank: 2, alpha: 4)
        settings.microBatchRows = 8
        let layout = LoRALayout(model: w.config, lora: settings.lora)
        let member = LoRAMember(layout: layout, seed: 3)
        var state: UInt64 = 9
        for i in 0..<layout.count where member.parameters.storage.pointer[i] == 0 {   // B ≠ 0, so A has a gradient too
            state = state &* 6364136223846793005 &+ 1442695040888963407
            member.parameters.storage.pointer[i] = 0.2 * (Float(state >> 40) / Float(1 << 24) - 0.5)
        }
        let trainer = PhaseTrainer(weights: w, ensemble: LoRAEnsemble(layout: layout, members: [member]), settings: settings, pool: pool)
        let data = [
            TrainingExample(prompt: [1, 2, 3], chosen: [4, 5, 6, 7], chosenLogprobs: [0, 0, 0, 0], rejected: [8, 9], rejectedLogprobs: [0, 0], contextLength: 64)!,
            TrainingExample(prompt: [10, 11], response: [12, 13], logprobs: [0, 0], desirable: true, contextLength: 64)!,
            TrainingExample(prompt: [20, 21, 22], response: [25, 26, 27], logprobs: [0, 0, 0], desirable: false, contextLength: 64)!,
        ]
        let (_, g) = trainer.lossAndGradients(of: member, on: data)
        var squaredError = 0.0, squaredNorm = 0.0
        let p = member.parameters.storage.pointer
        for i in stride(from: 0, to: layout.count, by: max(1, layout.count / 40)) {
            let saved = p[i], h: Float = 1e-2
            p[i] = saved + h
            let up = trainer.lossAndGradients(of: member, on: data).loss
            p[i] = saved - h
            let down = trainer.lossAndGradients(of: member, on: data).loss
            p[i] = saved
            let fd = (up - down) / Double(2 * h), analytic = Double(g.storage.pointer[i])
            squaredError += (fd - analytic) * (fd - analytic)
            squaredNorm += analytic * analytic
        }
        XCTAssertGreaterThan(squaredNorm, 0)
        XCTAssertLessThan((squaredError / squaredNorm).squareRoot(), 1e-2, "relative error of the sampled gradient")
    }

    func testMembersDifferAndTheMergeIsTheExactMeanDelta() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let w = Self.tinyWeights(pool: pool)
        var settings = PhaseSettings()
        settings.ensembleSize = 3
        settings.lora = LoRAConfiguration(rank: 2, alpha: 4, targets: [.query, .down])
        settings.optimizer = AdamWConfiguration(learningRate: 1e-2)
        let layout = LoRALayout(model: w.config, lora: settings.lora)
        let ensemble = LoRAEnsemble(layout: layout, memberCount: 3, seed: 11)
        let trainer = PhaseTrainer(weights: w, ensemble: ensemble, settings: settings, pool: pool)
        for _ in 0..<3 { _ = trainer.step(examples(w, pool: pool)) }
        let a0 = ensemble.members[0].parameters.a(layer: 0, role: .query)!, a1 = ensemble.members[1].parameters.a(layer: 0, role: .query)!
        XCTAssertNotEqual(a0[0], a1[0])
        // (scale/E)·Σ B_i A_i applied to x, against the merged adapter.
        let merged = ensemble.merged()
        for role in [LinearRole.query, .down] {
            let (input, output) = w.config.shape(of: role)
            let x = (0..<input).map { Float(sin(Double($0))) }
            var expected = [Double](repeating: 0, count: output)
            for m in ensemble.members {
                let a = m.parameters.a(layer: 1, role: role)!, b = m.parameters.b(layer: 1, role: role)!
                for o in 0..<output {
                    for k in 0..<2 {
                        let ax = (0..<input).reduce(0.0) { $0 + Double(a[k * input + $1]) * Double(x[$1]) }
                        expected[o] += Double(layout.lora.scale) / 3 * Double(b[o * 2 + k]) * ax
                    }
                }
            }
            var y = [Float](repeating: 0, count: output), u = [Float](repeating: 0, count: merged.rank)
            merged.delta(layer: 1, role: role)!.apply(x, &y, u: &u, m: 1, pool: nil)
            for o in 0..<output { XCTAssertEqual(Double(y[o]), expected[o], accuracy: 1e-6) }
        }
    }

    func testScheduleVisitsEveryPairEachPass() {
        var schedule = BatchSchedule(count: 10, batchSize: 4, seed: 3)
        var seen = Set<Int>()
        for _ in 0..<5 {
            let b = schedule.next()
            XCTAssertEqual(b.count, 4)
            XCTAssertEqual(Set(b).count, 4)
            seen.formUnion(b)
        }
        XCTAssertEqual(seen, Set(0..<10))
        var small = BatchSchedule(count: 3, batchSize: 16, seed: 1)
        XCTAssertEqual(Set(small.next()), Set(0..<3))
    }

    func testSettingsAreChecked() {
        var s = PhaseSettings()
        XCTAssertNil(s.problem)
        s.beta = 0
        XCTAssertNotNil(s.problem)
        s = PhaseSettings()
        s.reference = .softUpdate(alpha: 2)
        XCTAssertNotNil(s.problem)
    }
}
