// RMSNorm: y = (x / sqrt(mean(x²) + eps)) · w per row, as Llama (and Hugging Face's LlamaRMSNorm) defines it.
// The forward saves 1/rms per row for the backward.

/// out[r, :] = x[r, :] · rstd[r] · weight, rstd = 1/sqrt(mean(x[r, :]²) + eps), for `rows` rows of `dim`.
/// `rstd` (optional, `rows` entries) receives the per-row scale for the backward pass.
public func rmsNormForward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>?,
                           x: UnsafePointer<Float>, weight: UnsafePointer<Float>, rows: Int, dim: Int, eps: Float) {
    for r in 0..<rows {
        let xr = x + r * dim
        let or = out + r * dim
        let s = 1 / (dot(xr, xr, dim) / Float(dim) + eps).squareRoot()
        rstd?[r] = s
        var i = 0
        let s16 = SIMD16<Float>(repeating: s)
        while i + 16 <= dim { storeFloats(loadFloats(xr + i) * s16 * loadFloats(weight + i), or + i); i += 16 }
        while i < dim { or[i] = xr[i] * s * weight[i]; i += 1 }
    }
}
