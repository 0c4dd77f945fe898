// SwiGLU: h = silu(gate) · up, the Llama feed-forward gate; silu(g) = g · σ(g).

/// out[i] = silu(gate[i]) · up[i] for `count` entries.
public func swigluForward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
    var i = 0
    let one = SIMD16<Float>(repeating: 1)
    while i + 16 <= count {
        let g = loadFloats(gate + i)
        storeFloats(g / (one + exp(-g)) * loadFloats(up + i), out + i)
        i += 16
    }
    while i < count {
        let g = gate[i]
        out[i] = g / (1 + expScalar(-g)) * up[i]
        i += 1
    }
}
