// NaiveSampler: the reference for TokenSampler and LogProbabilities, written the obvious way (a full sort of
// the vocabulary, Double math), plus how close each of its decisions came to flipping (its margins).

import Foundation
import Sampling

// MARK: - Reference chain

/// The sampling chain as documented on `TokenSampler`, step by step, with no shortcuts.
struct NaiveSampler {
    let logits: [Float]
    let parameters: SamplingParameters

    /// Token ids sorted by the token order: higher logit first, lower id first among equal logits.
    var order: [Int] {
        logits.indices.sorted { logits[$0] > logits[$1] || (logits[$0] == logits[$1] && $0 < $1) }
    }

    /// `log_softmax(logits)` in Double.
    var rawLogProbs: [Double] {
        let maxLogit = Double(logits.max()!)
        let normaliser = maxLogit + log(logits.reduce(0.0) { $0 + exp(Double($1) - maxLogit) })
        return logits.map { Double($0) - normaliser }
    }

    /// The kept tokens in id order (never −∞ logits) with their renormalised probabilities, and the smallest
    /// relative distance by which a truncation decision was made (large means Float rounding cannot flip it).
    func keptDistribution() -> (ids: [Int], probabilities: [Double], margin: Double) {
        let order = order
        if parameters.temperature == 0 { return ([order[0]], [1], .infinity) }
        let maxLogit = Double(logits[order[0]])
        let poolSize = parameters.topK > 0 ? min(parameters.topK, logits.count) : logits.count
        let pool = Array(order.prefix(poolSize))
        let weight = { (id: Int) in exp((Double(self.logits[id]) - maxLogit) / Double(self.parameters.temperature)) }
        let poolTotal = pool.reduce(0.0) { $0 + weight($1) }
        var margin = Double.infinity
        var keptCount = pool.count
        if parameters.topP < 1 {
            let target = Double(parameters.topP) * poolTotal
            var cumulative = 0.0
            for (position, id) in pool.enumerated() {
                let before = cumulative
                cumulative += weight(id)
                if cumulative >= target {
                    keptCount = position + 1
                    margin = min(margin, (cumulative - target) / poolTotal, (target - before) / poolTotal)
                    break
                }
            }
        }
        var kept = pool.prefix(keptCount).filter { logits[$0] > -.infinity }
        if parameters.minP > 0 {
            let minP = Double(parameters.minP)
            for id in kept where weight(id) > 0 { margin = min(margin, abs(weight(id) / minP - 1)) }
            kept = kept.filter { weight($0) >= minP }
        }
        kept.sort()
        let keptTotal = kept.reduce(0.0) { $0 + weight($1) }
        return (kept, kept.map { weight($0) / keptTotal }, margin)
    }

    /// The draw for `coin` from a `keptDistribution()`: walking the kept tokens in id order, the first whose
    /// cumulative probability exceeds the coin; and the distance from the coin to the nearest boundary between
    /// two drawable tokens (0 and 1 are not boundaries: whatever the rounding they belong to the first and last).
    static func draw(from kept: (ids: [Int], probabilities: [Double], margin: Double), coin: Double) -> (id: Int, margin: Double) {
        let drawable = zip(kept.ids, kept.probabilities).filter { $0.1 > 0 }
        var cumulative = 0.0
        for (position, (id, probability)) in drawable.enumerated() {
            let before = cumulative
            cumulative += probability
            if cumulative > coin || position == drawable.count - 1 {
                let below = position == 0 ? Double.infinity : coin - before
                let above = position == drawable.count - 1 ? Double.infinity : cumulative - coin
                return (id, min(below, above))
            }
        }
        preconditionFailure("no drawable token")
    }
}

// MARK: - Test data

/// Random logits rows of several shapes, from a fixed seed.
struct LogitsFactory {
    var generator: SeededGenerator

    init(seed: UInt64) { generator = SeededGenerator(seed: seed) }

    mutating func normal() -> Float {
        let u1 = max(generator.nextUnitInterval(), 1e-300), u2 = generator.nextUnitInterval()
        return Float(sqrt(-2 * log(u1)) * cos(2 * .pi * u2))
    }

    /// Gaussian logits with standard deviation `spread` around `offset`.
    mutating func gaussian(_ count: Int, spread: Float, offset: Float = 0) -> [Float] {
        (0..<count).map { _ in normal() * spread + offset }
    }

    /// An LLM-like row: a Gaussian background with a few much stronger tokens.
    mutating func peaked(_ count: Int) -> [Float] {
        var logits = gaussian(count, spread: 2)
        for spike in 0..<min(8, count) { logits[Int(generator.next() % UInt64(count))] = 10 + Float(spike) }
        return logits
    }

    /// Logits on a coarse grid, so many tokens tie exactly (exercising the lower-id-first rule).
    mutating func tied(_ count: Int) -> [Float] {
        (0..<count).map { _ in (normal() * 2).rounded() / 2 }
    }

    /// A row with some tokens masked to −∞.
    mutating func masked(_ count: Int) -> [Float] {
        var logits = gaussian(count, spread: 1.5)
        for id in logits.indices where generator.next() % 4 == 0 { logits[id] = -.infinity }
        logits[Int(generator.next() % UInt64(count))] = 1
        return logits
    }
}
