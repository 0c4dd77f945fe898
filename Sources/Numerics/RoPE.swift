// RoPE: rotary position embedding on consecutive pairs (2i, 2i+1) of each head, the order GGUF's Llama
// conversion stores Q and K in (see FACTS.md). θ_i = base^(−2i/d), angle = position · θ_i, all in fp32.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// cos and sin of position · θ_i for the pairs of one head, computed once per row and shared by all heads
/// and layers. `table` has 2 · (headDim/2) entries per row: cos values, then sin values. `factors` (Llama 3.1's
/// `rope_freqs`), when given, divide each pair's θ_i.
public func ropeTable(positions: [Int], headDim: Int, base: Float, factors: [Float]? = nil, into table: UnsafeMutablePointer<Float>) {
    let half = headDim / 2
    for (r, p) in positions.enumerated() {
        let row = table + r * headDim
        for i in 0..<half {
            // As transformers computes it: inverse frequency in fp32, angle = fp32(position) · inv_freq.
            var invFreq = 1 / powf(base, Float(2 * i) / Float(headDim))
            if let factors { invFreq /= factors[i] }
            let angle = Float(p) * invFreq
            row[i] = Float(cos(Double(angle)))
            row[half + i] = Float(sin(Double(angle)))
        }
    }
}

/// Rotates `heads` heads of `headDim` values in each of `rows` rows (row stride `stride`) in place.
public func ropeForward(_ x: UnsafeMutablePointer<Float>, rows: Int, stride: Int, heads: Int, headDim: Int,
                        table: UnsafePointer<Float>) {
    let half = headDim / 2
    for r in 0..<rows {
        let cs = table + r * headDim
        for h in 0..<heads {
            let v = x + r * stride + h * headDim
            for i in 0..<half {
                let c = cs[i], s = cs[half + i]
                let a = v[2 * i], b = v[2 * i + 1]
                v[2 * i] = a * c - b * s
                v[2 * i + 1] = a * s + b * c
            }
        }
    }
}

/// Backward of `ropeForward` (a rotation, so its transpose rotates back), in place on the gradient.
public func ropeBackward(_ dx: UnsafeMutablePointer<Float>, rows: Int, stride: Int, heads: Int, headDim: Int,
                         table: UnsafePointer<Float>) {
    let half = headDim / 2
    for r in 0..<rows {
        let cs = table + r * headDim
        for h in 0..<heads {
            let v = dx + r * stride + h * headDim
            for i in 0..<half {
                let c = cs[i], s = cs[half + i]
                let a = v[2 * i], b = v[2 * i + 1]
                v[2 * i] = a * c + b * s
                v[2 * i + 1] = -a * s + b * c
            }
        }
    }
}
