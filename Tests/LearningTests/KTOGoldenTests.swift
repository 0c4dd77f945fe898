// KTOGoldenTests: the trainer's KTO step on the real model — a labelled pair and two thumbs (one up, one down),
// reference = the base model, z₀ from mismatched completions — against the same loss written in PyTorch + PEFT
// (Fixtures/kto_golden.json, made by Scripts/kto_golden.py): z₀, the loss, and the L2 norm of every LoRA
// gradient tensor within 1e-3 relative.

import Foundation
import XCTest
import Learning
import Llama
import Inference
import ModelFiles
import ProximaNumerics
import TestModels
import TestSupport

final class KTOGoldenTests: XCTestCase {
    func testKTOLossAndGradientMatchPyTorch() throws {
        let golden = try TestPaths.json(TestPaths.root.appendingPathComponent("Tests/LearningTests/Fixtures/kto_golden.json")) as! [String: Any]
        let pool = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount)
        defer { pool.shutdown() }
        let model = try ModelBundle(path: try TestPaths.defaultModel(), pool: pool)
        let c = model.weights.config
        var settings = PhaseSettings()
        settings.loss = .kto
        settings.reference = .initial
        settings.ensembleSize = 1
        settings.beta = golden["beta"] as! Double
        settings.desirableWeight = golden["desirable_weight"] as! Double
        settings.undesirableWeight = golden["undesirable_weight"] as! Double
        settings.lora = LoRAConfiguration(rank: 4, alpha: 8, targets: [.query, .value])
        let layout = LoRALayout(model: c, lora: settings.lora)
        let lora = GoldenLoRA.tensors(layout, bScale: 0.3)   // the script's LoRA, B larger so that z₀ > 0
        let member = LoRAMember(parameters: lora, optimizer: AdamWState(layout: layout))
        let trainer = PhaseTrainer(weights: model.weights, ensemble: LoRAEnsemble(layout: layout, members: [member]), settings: settings, pool: pool)
        // The pair, then the thumbs; behavior log-probs do not enter a loss against the base model.
        let groups = golden["groups"] as! [[String: Any]]
        let examples = groups.map { g -> TrainingExample in
            let prompt = g["prompt"] as! [Int], responses = g["responses"] as! [[Int]], desirable = g["desirable"] as! [Bool]
            let zeros = responses.map { [Float](repeating: 0, count: $0.count) }
            if responses.count == 2 {
                return TrainingExample(prompt: prompt, chosen: responses[0], chosenLogprobs: zeros[0], rejected: responses[1],
                                       rejectedLogprobs: zeros[1], contextLength: c.contextLength)!
            }
            return TrainingExample(prompt: prompt, response: responses[0], logprobs: zeros[0], desirable: desirable[0], contextLength: c.contextLength)!
        }
        XCTAssertEqual(examples.map(\.label), [.preference, .desirable, .undesirable])
        let (loss, gradients) = trainer.lossAndGradients(of: member, on: examples)
        XCTAssertEqual(loss, golden["loss"] as! Double, accuracy: 1e-4)
        let report = trainer.step(examples)
        XCTAssertEqual(report.ktoReferencePoint!, golden["z0"] as! Double, accuracy: 2e-3)
        XCTAssertEqual(report.loss, golden["loss"] as! Double, accuracy: 1e-4)

        let norms = golden["grad_l2"] as! [String: Double]
        var worst = 0.0
        for layer in 0..<c.layerCount {
            for (role, name) in [(LinearRole.query, "q_proj"), (.value, "v_proj")] {
                let (input, output) = c.shape(of: role)
                for (matrix, pointer, count) in [("A", gradients.a(layer: layer, role: role)!, 4 * input), ("B", gradients.b(layer: layer, role: role)!, 4 * output)] {
                    let norm = (0..<count).reduce(0.0) { $0 + Double(pointer[$1]) * Double(pointer[$1]) }.squareRoot()
                    let expected = norms["\(layer).\(name).\(matrix)"]!
                    worst = max(worst, abs(norm - expected) / expected)
                    XCTAssertLessThan(abs(norm - expected) / expected, 1e-3, "layer \(layer) \(name) \(matrix): \(norm) vs \(expected)")
                }
            }
        }
        print("KTO golden: loss \(loss) (PyTorch \(golden["loss"]!)), z0 \(report.ktoReferencePoint!); 120 gradient norms, largest relative gap \(String(format: "%.2e", worst))")
    }
}
