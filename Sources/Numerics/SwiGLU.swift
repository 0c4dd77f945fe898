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

/// Backward of `swigluForward`: dgate = dout · up · σ(g)(1 + g(1 − σ(g))), dup = dout · silu(g) (overwritten).
public func swigluBackward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                           gate: UnsafePointer<Float>, up: UnsafePointer<Float>, count: Int) {
    var i = 0
    let one = SIMD16<Float>(repeating: 1)
    while i + 16 <= count {
        let g = loadFloats(gate + i), u = loadFloats(up + i), d = loadFloats(dout + i)
        let sig = one / (one + exp(-g))
        storeFloats(d * u * sig * (one + g * (one - sig)), dgate + i)
        storeFloats(d * g * sig, dup + i)
        i += 16
    }
    while i < count {
        let g = gate[i]
        let sig = 1 / (1 + expScalar(-g))
        dgate[i] = dout[i] * up[i] * sig * (1 + g * (1 - sig))
        dup[i] = dout[i] * g * sig
        i += 1
    }
}
