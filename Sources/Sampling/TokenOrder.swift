// TokenOrder: the total order the sampler truncates in (higher logit first, lower id first among equal logits),
// and the search for its smallest prefix reaching a count (top-k) or a mass (top-p) without sorting the row.

// MARK: - Boundaries

/// A cut in the token order: it keeps every token at or before the token (`logit`, `id`).
struct OrderBoundary {
    var logit: Float
    var id: Int32

    /// Keeps everything, −∞ logits included.
    static let everything = OrderBoundary(logit: -.infinity, id: .max)

    /// Whether the token (`logit`, `id`) is at or before the cut.
    @inline(__always)
    func keeps(_ logit: Float, id: Int32) -> Bool {
        logit > self.logit || (logit == self.logit && id <= self.id)
    }

    /// The vector form; `ids` are token ids as Floats (exact below 2^24).
    @inline(__always)
    func keeps(_ logits: Lanes, ids: Lanes) -> LaneMask {
        (logits .> logit) .| ((logits .== logit) .& (ids .<= Float(id)))
    }
}

/// The kept set of the sampling chain: inside the top-k prefix, inside the top-p prefix, and with a weight
/// (e^((x − max)/T), so 1 for the top token) of at least min-p. All three are prefixes of the token order.
struct KeepRule {
    var topK = OrderBoundary.everything
    var topP = OrderBoundary.everything
    var minWeight: Float = 0

    @inline(__always)
    func keeps(_ logit: Float, id: Int32, weight: Float) -> Bool {
        topK.keeps(logit, id: id) && topP.keeps(logit, id: id) && weight >= minWeight
    }

    @inline(__always)
    func keeps(_ logits: Lanes, ids: Lanes, weights: Lanes) -> LaneMask {
        topK.keeps(logits, ids: ids) .& topP.keeps(logits, ids: ids) .& (weights .>= minWeight)
    }
}

// MARK: - Sorting

/// Sorts token ids into the token order: higher logit first, lower id first among equal logits.
func sortInTokenOrder(_ ids: inout [Int32], logits x: UnsafeBufferPointer<Float>) {
    ids.sort { x[Int($0)] > x[Int($1)] || (x[Int($0)] == x[Int($1)] && $0 < $1) }
}

// MARK: - Smallest prefix

/// What a prefix of the order must reach.
enum PrefixGoal {
    /// At least this many tokens (top-k).
    case count(Int)
    /// At least this much weight (top-p, with the target already multiplied by the pool's total).
    case mass(Double)

    func isReached(count: Int, mass: Double) -> Bool {
        switch self {
        case .count(let target): count >= target
        case .mass(let target): mass >= target
        }
    }
}

/// A prefix of the order: where it ends, how many tokens it holds and their total weight.
struct OrderPrefix {
    var boundary: OrderBoundary
    var count: Int
    var mass: Double
}

/// Bisection stops once the undecided band between the two thresholds holds at most this many tokens.
private let bandLimit = 64
/// An upper bound on bisection passes (each is one SIMD sweep of the row).
private let maxBisectionSteps = 48

/// The smallest prefix of the order reaching `goal`, among tokens with logit ≥ `lowest`.
///
/// Bisects a logit threshold with whole-row SIMD passes (count and weight of the tokens at or above it) until
/// few tokens separate "not enough" from "enough", then sorts only that band. If the tokens at or above `lowest`
/// fall short of the goal (rounding at top-p ≈ 1), the prefix ends at the last of them.
/// `band` is scratch storage; `weights` may be nil for a count goal.
func smallestPrefix(reaching goal: PrefixGoal, logits x: UnsafeBufferPointer<Float>, weights: UnsafePointer<Float>?,
                    maxLogit: Float, lowest: Float, band: inout [Int32]) -> OrderPrefix {
    var upper = maxLogit.nextUp, upperCount = 0, upperMass = 0.0
    var lower = lowest, lowerCount = x.count
    for _ in 0..<maxBisectionSteps where lowerCount - upperCount > bandLimit {
        let middle = lower * 0.5 + upper * 0.5
        guard middle > lower, middle < upper else { break }
        let (count, mass) = countAndMass(x, weights: weights, atLeast: middle)
        if goal.isReached(count: count, mass: mass) {
            (lower, lowerCount) = (middle, count)
        } else {
            (upper, upperCount, upperMass) = (middle, count, mass)
        }
    }
    band.removeAll(keepingCapacity: true)
    collect(x, from: lower, below: upper, into: &band)
    sortInTokenOrder(&band, logits: x)
    // Until a band token joins, the prefix is exactly the tokens at or above `upper`.
    var prefix = OrderPrefix(boundary: OrderBoundary(logit: upper.nextDown, id: -1), count: upperCount, mass: upperMass)
    for id in band {
        prefix.boundary = OrderBoundary(logit: x[Int(id)], id: id)
        prefix.count += 1
        prefix.mass += weights.map { Double($0[Int(id)]) } ?? 0
        if goal.isReached(count: prefix.count, mass: prefix.mass) { break }
    }
    return prefix
}
