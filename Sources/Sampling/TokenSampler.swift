// TokenSampler: picks the next token from one logits row (top-k → temperature softmax → top-p → min-p →
// renormalise → one uniform draw) and returns its log-prob under the model's raw distribution.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Results

/// The sampled token and its behavior log-prob: `log_softmax(logits)[id]` at temperature 1 with no truncation,
/// whatever the sampling parameters were.
public struct SampledToken: Sendable, Equatable {
    /// The token id (an index into the logits row).
    public var id: Int
    /// The raw log-probability of `id` (≤ 0).
    public var logProb: Float

    /// Creates a sampled token.
    public init(id: Int, logProb: Float) {
        self.id = id
        self.logProb = logProb
    }
}

/// A token the sampling chain keeps and the probability the draw gives it (after truncation and renormalising).
public struct TokenProbability: Sendable, Equatable {
    /// The token id.
    public var id: Int
    /// Its probability in the truncated, renormalised distribution.
    public var probability: Float

    /// Creates an entry.
    public init(id: Int, probability: Float) {
        self.id = id
        self.probability = probability
    }
}

// MARK: - Sampler

/// Samples tokens from logits rows with fixed, validated parameters. Keep one per generating sequence: it
/// reuses its scratch buffers, so after the first call sampling allocates nothing.
///
/// The chain, in order (as llama.cpp's samplers, but with the temperature applied before top-p and min-p):
/// 1. top-k: keep the k highest logits (0 or k ≥ vocabulary: off);
/// 2. softmax at temperature T over what is left: weight e^((x − max)/T);
/// 3. top-p: keep the shortest run, in descending probability, whose mass reaches p (1: off);
/// 4. min-p: keep tokens whose probability is at least min-p × the top token's (0: off);
/// 5. renormalise the kept weights and draw one token with one uniform number u in [0, 1): walking the kept
///    tokens in ascending id order, the first whose cumulative weight exceeds u × (kept total).
///
/// "Descending probability" is the token order used throughout: higher logit first, lower id first among
/// equal logits, so every truncation keeps a prefix of that order and results are deterministic. T = 0 is
/// greedy: the highest logit, lowest id among ties. Nothing sorts the whole vocabulary: thresholds are found
/// by SIMD passes and only the few tokens at a cut are sorted. Every call consumes exactly one uniform number,
/// greedy included, so the random stream of a sequence does not depend on its parameters.
public struct TokenSampler: Sendable {
    /// The validated parameters this sampler applies.
    public let parameters: SamplingParameters

    /// e^((x − max)/T) for each token of the last row (scratch).
    private var weights: [Float] = []
    /// Kept weight per block of `blockSize` ids (scratch for the draw).
    private var blockMasses: [Double] = []
    /// Token ids at a truncation cut (scratch for sorting).
    private var band: [Int32] = []

    /// Creates a sampler; throws `SamplingError.invalidParameter` if `parameters` are out of range.
    public init(parameters: SamplingParameters = SamplingParameters()) throws(SamplingError) {
        try parameters.validate()
        self.parameters = parameters
    }

    // MARK: - Sampling

    /// Samples one token from `logits`, drawing one 64-bit number from `generator`.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>,
                                using generator: inout some RandomNumberGenerator) throws(SamplingError) -> SampledToken {
        try sample(logits, coin: SeededGenerator.unitInterval(generator.next()))
    }

    /// Samples one token from `logits`, drawing one 64-bit number from `generator`.
    public mutating func sample(_ logits: [Float], using generator: inout some RandomNumberGenerator) throws(SamplingError) -> SampledToken {
        try sample(logits, coin: SeededGenerator.unitInterval(generator.next()))
    }

    /// Samples one token from `logits` with the uniform number `coin` in [0, 1): a pure function of its inputs.
    public mutating func sample(_ logits: [Float], coin: Double) throws(SamplingError) -> SampledToken {
        try logits.withUnsafeBufferPointer { (x) throws(SamplingError) in try sample(x, coin: coin) }
    }

    /// Samples one token from `logits` with the uniform number `coin` in [0, 1): a pure function of its inputs.
    public mutating func sample(_ logits: UnsafeBufferPointer<Float>, coin: Double) throws(SamplingError) -> SampledToken {
        precondition(coin >= 0 && coin < 1, "TokenSampler: the coin must be in [0, 1), got \(coin)")
        let summary = try validatedSummary(logits)
        let plan = prepare(logits, summary)
        let id = plan.greedyID ?? draw(logits, rule: plan.rule, coin: coin)
        return SampledToken(id: id, logProb: Float(Double(logits[id]) - plan.logSumExp))
    }

    /// Every token the chain keeps for `logits` (never −∞ logits), in id order — the order of the draw — with
    /// its renormalised probability, which is 0 when its weight underflows. Greedy keeps only the argmax.
    public mutating func distribution(_ logits: UnsafeBufferPointer<Float>) throws(SamplingError) -> [TokenProbability] {
        let summary = try validatedSummary(logits)
        let plan = prepare(logits, summary)
        if let id = plan.greedyID { return [TokenProbability(id: id, probability: 1)] }
        let rule = plan.rule
        return weights.withUnsafeMutableBufferPointer { w in
            blockMasses.withUnsafeMutableBufferPointer { blocks in
                let total = keptBlockMasses(logits, weights: w.baseAddress!, rule: rule, into: blocks.baseAddress!)
                return logits.indices.compactMap { id in
                    guard logits[id] > -.infinity, rule.keeps(logits[id], id: Int32(id), weight: w[id]) else { return nil }
                    return TokenProbability(id: id, probability: Float(Double(w[id]) / total))
                }
            }
        }
    }

    /// Every token the chain keeps for `logits`, with its probability (see the buffer overload).
    public mutating func distribution(_ logits: [Float]) throws(SamplingError) -> [TokenProbability] {
        try logits.withUnsafeBufferPointer { (x) throws(SamplingError) in try distribution(x) }
    }

    // MARK: - The chain

    /// The raw log-normaliser, and either the greedy choice or the rule deciding which tokens are kept.
    private struct Plan {
        var logSumExp: Double
        var greedyID: Int?
        var rule: KeepRule
    }

    /// Steps 1–4 of the chain; leaves e^((x − max)/T) in `weights` when not greedy.
    private mutating func prepare(_ x: UnsafeBufferPointer<Float>, _ summary: LogitSummary) -> Plan {
        let maxLogit = summary.max
        let inverseTemperature = 1 / parameters.temperature
        // A temperature so small that 1/T overflows is greedy in the limit.
        if parameters.isGreedy || !inverseTemperature.isFinite {
            let rawSum = sumOfExponentials(x, shift: maxLogit, scale: 1, storingInto: nil)
            return Plan(logSumExp: Double(maxLogit) + log(rawSum), greedyID: firstIndex(of: maxLogit, in: x), rule: KeepRule())
        }
        reserveScratch(for: x.count)
        let parameters = parameters
        return weights.withUnsafeMutableBufferPointer { buffer in
            let w = buffer.baseAddress!
            let rawSum = sumOfExponentials(x, shift: maxLogit, scale: 1, storingInto: inverseTemperature == 1 ? w : nil)
            let total = inverseTemperature == 1
                ? rawSum : sumOfExponentials(x, shift: maxLogit, scale: inverseTemperature, storingInto: w)
            var rule = KeepRule(minWeight: parameters.minP)
            var pool = OrderPrefix(boundary: .everything, count: summary.countAboveNegativeInfinity, mass: total)
            if parameters.topK > 0, parameters.topK < summary.countAboveNegativeInfinity {
                pool = smallestPrefix(reaching: .count(parameters.topK), logits: x, weights: w, maxLogit: maxLogit,
                                      lowest: summary.minAboveNegativeInfinity, band: &band)
                rule.topK = pool.boundary
            }
            if parameters.topP < 1 {
                // Tokens lighter than θ = (1 − p)·mass / count cannot all be needed: together they weigh less than
                // (1 − p)·mass. Searching only above half of θ (for rounding) saves bisection passes.
                let threshold = 0.5 * Double(1 - parameters.topP) * pool.mass / Double(pool.count)
                let lightest = Double(maxLogit) + Double(parameters.temperature) * log(threshold)
                let lowest = Swift.max(summary.minAboveNegativeInfinity, pool.boundary.logit, Float(lightest))
                rule.topP = smallestPrefix(reaching: .mass(Double(parameters.topP) * pool.mass), logits: x, weights: w,
                                           maxLogit: maxLogit, lowest: lowest, band: &band).boundary
            }
            return Plan(logSumExp: Double(maxLogit) + log(rawSum), greedyID: nil, rule: rule)
        }
    }

    /// Step 5: the kept token at cumulative weight `coin` × (kept total), walking ids in ascending order.
    private mutating func draw(_ x: UnsafeBufferPointer<Float>, rule: KeepRule, coin: Double) -> Int {
        weights.withUnsafeMutableBufferPointer { w in
            blockMasses.withUnsafeMutableBufferPointer { blocks in
                let total = keptBlockMasses(x, weights: w.baseAddress!, rule: rule, into: blocks.baseAddress!)
                let target = coin * total
                var cumulative = 0.0
                var lastKept = -1
                for block in 0..<((x.count + blockSize - 1) / blockSize) {
                    let blockEnd = cumulative + blocks[block]
                    guard blockEnd > target else {
                        cumulative = blockEnd
                        continue
                    }
                    // The crossing is in this block: walk it one token at a time.
                    for id in (block * blockSize)..<Swift.min((block + 1) * blockSize, x.count)
                    where w[id] > 0 && rule.keeps(x[id], id: Int32(id), weight: w[id]) {
                        cumulative += Double(w[id])
                        lastKept = id
                        if cumulative > target { return id }
                    }
                }
                // Only reached when rounding leaves the walk a hair short of the target: take the last kept token.
                return lastKept
            }
        }
    }

    // MARK: - Helpers

    private mutating func reserveScratch(for count: Int) {
        if weights.count < count {
            weights = [Float](repeating: 0, count: count)
            blockMasses = [Double](repeating: 0, count: (count + blockSize - 1) / blockSize)
            band.reserveCapacity(1024)
        }
    }
}

/// The summary of a logits row, or the error saying why it defines no distribution.
func validatedSummary(_ x: UnsafeBufferPointer<Float>) throws(SamplingError) -> LogitSummary {
    guard !x.isEmpty else { throw .emptyLogits }
    precondition(x.count <= maxVocabularySize, "Sampling supports vocabularies of up to 2^24 tokens, got \(x.count)")
    let summary = summarize(x)
    guard summary.isValid else { throw .nonFiniteLogits }
    return summary
}
