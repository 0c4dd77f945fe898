// VectorKernels: the SIMD loops behind the sampler and the log-prob helpers (scan, exp and sum, count and mass
// above a threshold, collect a band, per-block kept mass). 16 lanes; sums go to Double once per 256 entries.

// Written for what Swift lowers to vector instructions: lane-wise min/max/clamp are `replacing(with:where:)`
// (a select; the generic `pointwiseMin`/`pointwiseMax`/`clamped` run lane by lane), and token ids are compared
// as Float lanes (exact below 2^24), because SIMD Int32 comparisons also run lane by lane.

import ProximaNumerics

// MARK: - Lanes

typealias Lanes = SIMD16<Float>
typealias LaneIDs = SIMD16<Int32>
typealias LaneMask = SIMDMask<SIMD16<Int32>>

let laneCount = 16
/// Entries summed in Float lanes before the partial sums join a Double total (16 terms per lane).
let blockSize = 256

/// 0, 1, …, 15: added to a vector's first id to get the ids of its lanes (as Floats, see above).
let laneOffsets = Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
/// Token ids are compared as Float lanes, which is exact below this vocabulary size.
let maxVocabularySize = 1 << 24

/// The 16 entries from `index`, or fewer at the end of the row with the missing lanes set to `padding`.
@inline(__always)
func loadLanes(_ base: UnsafePointer<Float>, at index: Int, count: Int, padding: Float) -> Lanes {
    if index + laneCount <= count { return UnsafeRawPointer(base + index).loadUnaligned(as: Lanes.self) }
    var lanes = Lanes(repeating: padding)
    for lane in 0..<(count - index) { lanes[lane] = base[index + lane] }
    return lanes
}

// MARK: - Scan

/// What one pass over a logits row finds: the extremes, how many entries are finite, whether any is NaN.
struct LogitSummary {
    /// The largest logit.
    var max: Float
    /// The smallest logit above −∞ (+∞ when there is none).
    var minAboveNegativeInfinity: Float
    /// How many logits are above −∞.
    var countAboveNegativeInfinity: Int
    /// Whether some logit is NaN.
    var hasNaN: Bool

    /// Whether the row defines a distribution: no NaN, no +∞, at least one entry above −∞.
    var isValid: Bool { !hasNaN && max.isFinite }
}

func summarize(_ x: UnsafeBufferPointer<Float>) -> LogitSummary {
    let base = x.baseAddress!, count = x.count
    var maxLanes = Lanes(repeating: -.infinity), minLanes = Lanes(repeating: .infinity)
    var finite = LaneIDs.zero
    var nan = LaneMask(repeating: false)
    for index in stride(from: 0, to: count, by: laneCount) {
        let v = loadLanes(base, at: index, count: count, padding: -.infinity)
        nan .|= v .!= v
        maxLanes = maxLanes.replacing(with: v, where: v .> maxLanes)
        let aboveNegativeInfinity = v .> -.infinity
        minLanes = minLanes.replacing(with: v, where: aboveNegativeInfinity .& (v .< minLanes))
        finite &+= LaneIDs.zero.replacing(with: 1, where: aboveNegativeInfinity)
    }
    return LogitSummary(max: maxLanes.max(), minAboveNegativeInfinity: minLanes.min(),
                        countAboveNegativeInfinity: Int(finite.wrappedSum()), hasNaN: any(nan))
}

/// The first index holding `value`, which must occur (with the row's maximum: the argmax, lowest id among ties).
func firstIndex(of value: Float, in x: UnsafeBufferPointer<Float>) -> Int {
    let base = x.baseAddress!, count = x.count
    var index = 0
    while !any(loadLanes(base, at: index, count: count, padding: .nan) .== value) { index += laneCount }
    return x[index...].firstIndex(of: value)!
}

// MARK: - Exponentiate

/// Σ_i e^((x_i − shift) · scale), optionally storing each term in `weights`; Float lanes per block, Double total.
func sumOfExponentials(_ x: UnsafeBufferPointer<Float>, shift: Float, scale: Float,
                       storingInto weights: UnsafeMutablePointer<Float>?) -> Double {
    let base = x.baseAddress!, count = x.count
    var total = SIMD16<Double>.zero
    for blockStart in stride(from: 0, to: count, by: blockSize) {
        var block = Lanes.zero
        for index in stride(from: blockStart, to: Swift.min(blockStart + blockSize, count), by: laneCount) {
            let terms = exp((loadLanes(base, at: index, count: count, padding: -.infinity) - shift) * scale)
            block += terms
            if let weights {
                if index + laneCount <= count {
                    UnsafeMutableRawPointer(weights + index).storeBytes(of: terms, as: Lanes.self)
                } else {
                    for lane in 0..<(count - index) { weights[index + lane] = terms[lane] }
                }
            }
        }
        total += SIMD16<Double>(block)
    }
    return total.sum()
}

// MARK: - Thresholds

/// How many logits are ≥ `threshold`, and the sum of their weights (0 when `weights` is nil).
func countAndMass(_ x: UnsafeBufferPointer<Float>, weights: UnsafePointer<Float>?, atLeast threshold: Float) -> (count: Int, mass: Double) {
    let base = x.baseAddress!, count = x.count
    var counted = LaneIDs.zero
    var total = SIMD16<Double>.zero
    for blockStart in stride(from: 0, to: count, by: blockSize) {
        var block = Lanes.zero
        for index in stride(from: blockStart, to: Swift.min(blockStart + blockSize, count), by: laneCount) {
            let above = loadLanes(base, at: index, count: count, padding: -.infinity) .>= threshold
            counted &+= LaneIDs.zero.replacing(with: 1, where: above)
            if let weights { block += loadLanes(weights, at: index, count: count, padding: 0).replacing(with: 0, where: .!above) }
        }
        total += SIMD16<Double>(block)
    }
    return (Int(counted.wrappedSum()), total.sum())
}

/// Appends, in id order, the ids whose logit is in [lower, upper).
func collect(_ x: UnsafeBufferPointer<Float>, from lower: Float, below upper: Float, into ids: inout [Int32]) {
    let base = x.baseAddress!, count = x.count
    for index in stride(from: 0, to: count, by: laneCount) {
        let v = loadLanes(base, at: index, count: count, padding: -.infinity)
        guard any((v .>= lower) .& (v .< upper)) else { continue }
        for id in index..<Swift.min(index + laneCount, count) where base[id] >= lower && base[id] < upper {
            ids.append(Int32(id))
        }
    }
}

// MARK: - Kept mass

/// Writes the weight kept by `rule` in each block of `blockSize` ids to `blockMasses`; returns their sum.
func keptBlockMasses(_ x: UnsafeBufferPointer<Float>, weights: UnsafePointer<Float>, rule: KeepRule,
                     into blockMasses: UnsafeMutablePointer<Double>) -> Double {
    let base = x.baseAddress!, count = x.count
    var total = 0.0
    for (blockNumber, blockStart) in stride(from: 0, to: count, by: blockSize).enumerated() {
        var block = Lanes.zero
        for index in stride(from: blockStart, to: Swift.min(blockStart + blockSize, count), by: laneCount) {
            let v = loadLanes(base, at: index, count: count, padding: -.infinity)
            let w = loadLanes(weights, at: index, count: count, padding: 0)
            block += w.replacing(with: 0, where: .!rule.keeps(v, ids: Lanes(repeating: Float(index)) + laneOffsets, weights: w))
        }
        blockMasses[blockNumber] = Double(block.sum())
        total += blockMasses[blockNumber]
    }
    return total
}
