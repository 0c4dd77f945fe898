// LogProbabilities: raw log-probabilities of a logits row (temperature 1, no truncation) — the numbers the
// learner trusts and the API's top_logprobs — computed as max-subtracted log-sum-exp with Double block sums.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - Values

/// A token id with its raw log-probability.
public struct TokenLogProb: Sendable, Equatable {
    /// The token id.
    public var id: Int
    /// `log_softmax(logits)[id]`.
    public var logProb: Float

    /// Creates an entry.
    public init(id: Int, logProb: Float) {
        self.id = id
        self.logProb = logProb
    }
}

// MARK: - Functions

/// Log-softmax and friends over one logits row. Rows must be non-empty with no NaN or +∞ and at least one
/// entry above −∞; otherwise they throw. −∞ entries get log-probability −∞.
public enum LogProbabilities {
    /// log Σ_i e^(x_i), as max + log Σ_i e^(x_i − max): Float exponentials summed in Float per block of 256
    /// entries (16 terms per lane), blocks summed in Double.
    public static func logSumExp(_ logits: UnsafeBufferPointer<Float>) throws(SamplingError) -> Double {
        let summary = try validatedSummary(logits)
        return Double(summary.max) + log(sumOfExponentials(logits, shift: summary.max, scale: 1, storingInto: nil))
    }

    /// log Σ_i e^(x_i) (see the buffer overload).
    public static func logSumExp(_ logits: [Float]) throws(SamplingError) -> Double {
        try logits.withUnsafeBufferPointer { (x) throws(SamplingError) in try logSumExp(x) }
    }

    /// Writes `x_i − logSumExp(x)` (subtracted in Double) into `output`, which must have the same count.
    public static func logSoftmax(_ logits: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) throws(SamplingError) {
        precondition(output.count == logits.count, "logSoftmax: output has \(output.count) entries for \(logits.count) logits")
        let normaliser = try logSumExp(logits)
        for index in logits.indices { output[index] = Float(Double(logits[index]) - normaliser) }
    }

    /// `log_softmax(logits)` (see the buffer overload).
    public static func logSoftmax(_ logits: [Float]) throws(SamplingError) -> [Float] {
        var output = [Float](repeating: 0, count: logits.count)
        try logits.withUnsafeBufferPointer { (x) throws(SamplingError) in
            try output.withUnsafeMutableBufferPointer { (y) throws(SamplingError) in try logSoftmax(x, into: y) }
        }
        return output
    }

    /// The `count` most likely tokens with their raw log-probs, most likely first (lower id first among equal
    /// logits); all tokens when `count` ≥ the row's size, none when `count` ≤ 0. Sorts only the tokens it returns.
    public static func topLogprobs(_ logits: UnsafeBufferPointer<Float>, count: Int) throws(SamplingError) -> [TokenLogProb] {
        let summary = try validatedSummary(logits)
        let normaliser = Double(summary.max) + log(sumOfExponentials(logits, shift: summary.max, scale: 1, storingInto: nil))
        guard count > 0 else { return [] }
        var ids: [Int32] = []
        if count < summary.countAboveNegativeInfinity {
            let prefix = smallestPrefix(reaching: .count(count), logits: logits, weights: nil, maxLogit: summary.max,
                                        lowest: summary.minAboveNegativeInfinity, band: &ids)
            ids.removeAll(keepingCapacity: true)
            for id in logits.indices where prefix.boundary.keeps(logits[id], id: Int32(id)) { ids.append(Int32(id)) }
        } else {
            ids = logits.indices.map { Int32($0) }
        }
        sortInTokenOrder(&ids, logits: logits)
        return ids.prefix(count).map { TokenLogProb(id: Int($0), logProb: Float(Double(logits[Int($0)]) - normaliser)) }
    }

    /// The `count` most likely tokens with their raw log-probs (see the buffer overload).
    public static func topLogprobs(_ logits: [Float], count: Int) throws(SamplingError) -> [TokenLogProb] {
        try logits.withUnsafeBufferPointer { (x) throws(SamplingError) in try topLogprobs(x, count: count) }
    }
}
