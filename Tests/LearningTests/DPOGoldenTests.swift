// DPOGoldenTests: one DPO pair on the real model with a deterministic LoRA (r = 4, alpha = 8, q and v)
// against PyTorch + PEFT (../shared/golden/dpo_grad_golden.json): log-probs, loss, and the L2 norm of every
// LoRA gradient tensor within 1e-3 relative.

import Foundation
import XCTest
import Learning
import Llama
import Inference
import ModelFiles
import ProximaNumerics
import TestModels
import TestSupport

final class DPOGoldenTests: XCTestCase {
    func testLoRAGradientMatchesPyTorchPEFT() throws {
        let golden = try TestPaths.json(TestPaths.golden("dpo_grad_golden.json")) as! [String: Any]
        let reference = (golden["variants"] as! [String: Any])["float64_eager"] as! [String: Any]
        let pool = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount)
        defer { pool.shutdown() }
        let model = try ModelBundle(path: try TestPaths.defaultModel(), pool: pool)
        let c = model.weights.config
        let layout = LoRALayout(model: c, lora: LoRAConfiguration(rank: 4, alpha: 8, targets: [.query, .value]))
        let lora = GoldenLoRA.tensors(layout)
        let pair = PreferencePair(prompt: golden["prompt_ids"] as! [Int], chosen: golden["chosen_response_ids"] as! [Int],
                                  rejected: golden["rejected_response_ids"] as! [Int])
        let batch = TrainingBatch(pairs: [pair])
        let acts = TrainingActivations(config: c, adapterRank: 4, targets: layout.lora.targets, maxRows: batch.rowCount, maxLogitRows: batch.logitRowCount)
        let base = model.weights.trainingForward(batch, adapter: nil, activations: acts, pool: pool)[0]
        let policy = model.weights.trainingForward(batch, adapter: lora, activations: acts, pool: pool)[0]
        let loss = PreferenceLoss.dpo.evaluate(policy: policy, reference: base, beta: golden["beta"] as! Double)
        XCTAssertEqual(policy.chosen, reference["policy_logp_chosen"] as! Double, accuracy: 2e-3)
        XCTAssertEqual(policy.rejected, reference["policy_logp_rejected"] as! Double, accuracy: 2e-3)
        XCTAssertEqual(base.chosen, reference["ref_logp_chosen"] as! Double, accuracy: 2e-3)
        XCTAssertEqual(base.rejected, reference["ref_logp_rejected"] as! Double, accuracy: 2e-3)
        XCTAssertEqual(loss.loss, reference["loss"] as! Double, accuracy: 1e-4)

        let gradients = LoRATensors(layout: layout)
        model.weights.trainingBackward(batch, dLogProbs: [PairLogProbGradients(chosen: Float(loss.dChosen), rejected: Float(loss.dRejected))],
                                       lora: lora, gradients: gradients, activations: acts, pool: pool)
        let norms = reference["grad_l2_all_lora_tensors"] as! [String: Double]
        var worst = 0.0
        for layer in 0..<c.layerCount {
            for (role, name) in [(LinearRole.query, "q_proj"), (.value, "v_proj")] {
                let (input, output) = c.shape(of: role)
                for (matrix, pointer, count) in [("A", gradients.a(layer: layer, role: role)!, 4 * input), ("B", gradients.b(layer: layer, role: role)!, 4 * output)] {
                    let norm = (0..<count).reduce(0.0) { $0 + Double(pointer[$1]) * Double(pointer[$1]) }.squareRoot()
                    let expected = norms["layers.\(layer).self_attn.\(name).lora_\(matrix)"]!
                    let relative = abs(norm - expected) / expected
                    worst = max(worst, relative)
                    XCTAssertLessThan(relative, 1e-3, "layer \(layer) \(name) lora_\(matrix): \(norm) vs \(expected)")
                }
            }
        }
        print("DPO golden: loss \(loss.loss) (PyTorch \(reference["loss"]!)); 120 gradient norms, largest relative gap \(String(format: "%.2e", worst))")
    }
}
