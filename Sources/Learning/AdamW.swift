// AdamW: the optimiser of one ensemble member (decoupled weight decay, bias correction, linear warm-up),
// with gradient clipping by the member's global L2 norm.

import Llama
#if canImport(Glibc)
import Glibc
#endif

/// Optimiser settings.
public struct AdamWConfiguration: Codable, Sendable, Equatable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    public var weightDecay: Double
    /// Steps over which the learning rate rises linearly from 0 to `learningRate`.
    public var warmupSteps: Int
    /// Gradients are scaled down when their global L2 norm exceeds this (0: no clipping).
    public var clipNorm: Double

    public init(learningRate: Double = 5e-5, beta1: Double = 0.9, beta2: Double = 0.999, epsilon: Double = 1e-8,
                weightDecay: Double = 0, warmupSteps: Int = 0, clipNorm: Double = 1) {
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.epsilon = epsilon
        self.weightDecay = weightDecay; self.warmupSteps = warmupSteps; self.clipNorm = clipNorm
    }

    /// The learning rate at (1-based) step `t`.
    public func rate(atStep t: Int) -> Double {
        warmupSteps > 0 && t <= warmupSteps ? learningRate * Double(t) / Double(warmupSteps) : learningRate
    }
}

/// The two moment estimates of AdamW for one member, in its LoRA layout, and the step count.
public final class AdamWState: @unchecked Sendable {
    public let m: LoRATensors
    public let v: LoRATensors
    public private(set) var step: Int

    public init(layout: LoRALayout) {
        m = LoRATensors(layout: layout)
        v = LoRATensors(layout: layout)
        step = 0
    }

    public init(m: LoRATensors, v: LoRATensors, step: Int) {
        precondition(m.layout == v.layout)
        self.m = m
        self.v = v
        self.step = step
    }

    public func copy() -> AdamWState { AdamWState(m: m.copy(), v: v.copy(), step: step) }

    /// One update of `parameters` with `gradients` (clipped in place first). Returns the gradient norm
    /// before clipping.
    @discardableResult
    public func update(_ parameters: LoRATensors, gradients: LoRATensors, configuration c: AdamWConfiguration) -> Double {
        let n = parameters.layout.count
        let p = parameters.storage.pointer, g = gradients.storage.pointer, m1 = m.storage.pointer, m2 = v.storage.pointer
        var squares = 0.0
        for i in 0..<n { squares += Double(g[i]) * Double(g[i]) }
        let norm = squares.squareRoot()
        let clip = c.clipNorm > 0 && norm > c.clipNorm ? Float(c.clipNorm / (norm + 1e-6)) : 1
        step += 1
        let lr = c.rate(atStep: step)
        let correction1 = 1 - pow(c.beta1, Double(step)), correction2 = 1 - pow(c.beta2, Double(step))
        let b1 = Float(c.beta1), b2 = Float(c.beta2), eps = Float(c.epsilon)
        let stepSize = Float(lr / correction1), decay = Float(lr * c.weightDecay)
        let root2 = Float(correction2.squareRoot())
        for i in 0..<n {
            let gi = g[i] * clip
            m1[i] = b1 * m1[i] + (1 - b1) * gi
            m2[i] = b2 * m2[i] + (1 - b2) * gi * gi
            p[i] -= decay * p[i] + stepSize * m1[i] / ((m2[i].squareRoot() / root2) + eps)
        }
        return norm
    }
}
