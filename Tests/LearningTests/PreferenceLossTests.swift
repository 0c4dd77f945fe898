// PreferenceLossTests: DPO, IPO and SLiC against values worked out by hand, their derivatives against finite
// differences, and AdamW against the update rule written out in Double.

import Foundation
import XCTest
import Learning
import Llama

final class PreferenceLossTests: XCTestCase {
    // policy: chosen −10 (4 tokens), rejected −12 (2 tokens); reference: −11 and −11.
    let policy = PairLogProbs(chosen: -10, rejected: -12, chosenTokens: 4, rejectedTokens: 2)
    let reference = PairLogProbs(chosen: -11, rejected: -11, chosenTokens: 4, rejectedTokens: 2)

    func testDPOByHand() {
        // h = (−10 + 11) − (−12 + 11) = 2; L = softplus(−0.2) = log(1 + e^−0.2); dL/dπ_w = −0.1·σ(−0.2)
        let r = PreferenceLoss.dpo.evaluate(policy: policy, reference: reference, beta: 0.1)
        XCTAssertEqual(r.logit, 2)
        XCTAssertEqual(r.loss, 0.5981388693815918, accuracy: 1e-12)
        XCTAssertEqual(r.dChosen, -0.04501660026875221, accuracy: 1e-12)
        XCTAssertEqual(r.dRejected, 0.04501660026875221, accuracy: 1e-12)
        // Far from zero the softplus form neither overflows nor loses the value.
        let big = PreferenceLoss.dpo.evaluate(policy: PairLogProbs(chosen: 0, rejected: -1e4, chosenTokens: 1, rejectedTokens: 1),
                                              reference: PairLogProbs(chosen: 0, rejected: 0, chosenTokens: 1, rejectedTokens: 1), beta: 1)
        XCTAssertEqual(big.loss, 0, accuracy: 1e-300)
        let bad = PreferenceLoss.dpo.evaluate(policy: PairLogProbs(chosen: -1e4, rejected: 0, chosenTokens: 1, rejectedTokens: 1),
                                              reference: PairLogProbs(chosen: 0, rejected: 0, chosenTokens: 1, rejectedTokens: 1), beta: 1)
        XCTAssertEqual(bad.loss, 1e4, accuracy: 1e-9)
    }

    func testIPOByHand() {
        // h̄ = 1/4 − (−1)/2 = 0.75; L = (0.75 − 5)² = 18.0625; dL/dπ_w = 2(−4.25)/4, dL/dπ_l = −2(−4.25)/2
        let r = PreferenceLoss.ipo.evaluate(policy: policy, reference: reference, beta: 0.1)
        XCTAssertEqual(r.loss, 18.0625, accuracy: 1e-12)
        XCTAssertEqual(r.dChosen, -2.125, accuracy: 1e-12)
        XCTAssertEqual(r.dRejected, 4.25, accuracy: 1e-12)
    }

    func testSLiCByHand() {
        let r = PreferenceLoss.slic.evaluate(policy: policy, reference: reference, beta: 0.1)
        XCTAssertEqual(r.loss, 0.8, accuracy: 1e-12)
        XCTAssertEqual(r.dChosen, -0.1, accuracy: 1e-12)
        XCTAssertEqual(r.dRejected, 0.1, accuracy: 1e-12)
        let satisfied = PreferenceLoss.slic.evaluate(policy: policy, reference: reference, beta: 1)
        XCTAssertEqual(satisfied.loss, 0)
        XCTAssertEqual(satisfied.dChosen, 0)
    }

    func testDerivativesMatchFiniteDifferences() {
        for loss in PreferenceLoss.allCases where loss.isPairwise {
            for beta in [0.1, 0.3] {   // (β = 0.5 puts SLiC exactly on its hinge here)
                let r = loss.evaluate(policy: policy, reference: reference, beta: beta)
                let h = 1e-6
                var up = policy, down = policy
                up.chosen += h; down.chosen -= h
                let dc = (loss.evaluate(policy: up, reference: reference, beta: beta).loss - loss.evaluate(policy: down, reference: reference, beta: beta).loss) / (2 * h)
                up = policy; down = policy
                up.rejected += h; down.rejected -= h
                let dr = (loss.evaluate(policy: up, reference: reference, beta: beta).loss - loss.evaluate(policy: down, reference: reference, beta: beta).loss) / (2 * h)
                XCTAssertEqual(r.dChosen, dc, accuracy: 1e-6, "\(loss) β=\(beta)")
                XCTAssertEqual(r.dRejected, dr, accuracy: 1e-6, "\(loss) β=\(beta)")
            }
        }
    }

    func testKTOByHand() {
        // r = −10 − (−11) = 1, z₀ = 0.5, β = 0.1: desirable v = σ(0.05), undesirable v = 1.5·σ(−0.05).
        let good = KTOLoss.evaluate(policy: -10, reference: -11, desirable: true, referencePoint: 0.5, beta: 0.1,
                                    desirableWeight: 1, undesirableWeight: 1.5)
        let s = 1 / (1 + exp(-0.05))
        XCTAssertEqual(good.reward, 0.5, accuracy: 1e-12)
        XCTAssertEqual(good.loss, 1 - s, accuracy: 1e-12)
        XCTAssertEqual(good.dPolicy, -0.1 * s * (1 - s), accuracy: 1e-12)
        let bad = KTOLoss.evaluate(policy: -10, reference: -11, desirable: false, referencePoint: 0.5, beta: 0.1,
                                   desirableWeight: 1, undesirableWeight: 1.5)
        let t = 1 / (1 + exp(0.05))
        XCTAssertEqual(bad.loss, 1.5 * (1 - t), accuracy: 1e-12)
        XCTAssertEqual(bad.dPolicy, 1.5 * 0.1 * t * (1 - t), accuracy: 1e-12)
        // z₀: the mean log-ratio clipped at 0.
        XCTAssertEqual(KTOLoss.referencePoint(policy: [-1, -2], reference: [-2, -2]), 0.5)
        XCTAssertEqual(KTOLoss.referencePoint(policy: [-3, -2], reference: [-2, -2]), 0)
        XCTAssertEqual(KTOLoss.referencePoint(policy: [], reference: []), 0)
    }

    func testKTODerivativeMatchesFiniteDifferences() {
        for desirable in [true, false] {
            for (beta, z0) in [(0.1, 0.0), (0.5, 2.0), (1.0, -0.5)] {
                func loss(_ p: Double) -> Double {
                    KTOLoss.evaluate(policy: p, reference: -11, desirable: desirable, referencePoint: z0, beta: beta,
                                     desirableWeight: 0.7, undesirableWeight: 1.3).loss
                }
                let h = 1e-6
                let d = KTOLoss.evaluate(policy: -10, reference: -11, desirable: desirable, referencePoint: z0, beta: beta,
                                         desirableWeight: 0.7, undesirableWeight: 1.3).dPolicy
                XCTAssertEqual(d, (loss(-10 + h) - loss(-10 - h)) / (2 * h), accuracy: 1e-8, "desirable \(desirable) β \(beta) z₀ \(z0)")
            }
        }
    }

    func testAdamWFollowsTheUpdateRule() {
        let model = LlamaConfig(layerCount: 1, dim: 32, ffnDim: 32, headCount: 1, kvHeadCount: 1, headDim: 32,
                                vocabSize: 8, contextLength: 8, ropeBase: 10_000, normEps: 1e-5)
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: 1, alpha: 1, targets: [.query]))
        let p = LoRATensors(layout: layout), g = LoRATensors(layout: layout)
        let c = AdamWConfiguration(learningRate: 0.01, weightDecay: 0.1, warmupSteps: 2, clipNorm: 1)
        let state = AdamWState(layout: layout)
        var x = [Double](repeating: 0.5, count: layout.count), m = [Double](repeating: 0, count: layout.count), v = m
        for i in 0..<layout.count { p.storage.pointer[i] = 0.5 }
        for step in 1...3 {
            var gradient = (0..<layout.count).map { Double(($0 * 7 + step) % 11) / 10 - 0.5 }
            for i in 0..<layout.count { g.storage.pointer[i] = Float(gradient[i]) }
            let norm = gradient.reduce(0) { $0 + $1 * $1 }.squareRoot()
            if norm > 1 { gradient = gradient.map { $0 / (norm + 1e-6) } }
            let lr = step <= 2 ? 0.01 * Double(step) / 2 : 0.01
            for i in x.indices {
                m[i] = 0.9 * m[i] + 0.1 * gradient[i]
                v[i] = 0.999 * v[i] + 0.001 * gradient[i] * gradient[i]
                let mh = m[i] / (1 - pow(0.9, Double(step))), vh = v[i] / (1 - pow(0.999, Double(step)))
                x[i] -= lr * 0.1 * x[i] + lr * mh / (vh.squareRoot() + 1e-8)
            }
            XCTAssertEqual(state.update(p, gradients: g, configuration: c), norm, accuracy: 1e-5)
            for i in x.indices { XCTAssertEqual(Double(p.storage.pointer[i]), x[i], accuracy: 1e-6) }
        }
    }
}
