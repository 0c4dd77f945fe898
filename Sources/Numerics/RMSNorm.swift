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

/// Backward of `rmsNormForward` for the input (the weight is frozen): dx[r, :] += rstd · (w⊙dy −
/// x · rstd² · mean(x ⊙ w ⊙ dy)), with `rstd` as the forward saved it.
public func rmsNormBackward(dx: UnsafeMutablePointer<Float>, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                            weight: UnsafePointer<Float>, rstd: UnsafePointer<Float>, rows: Int, dim: Int) {
    for r in 0..<rows {
        let xr = x + r * dim, dyr = dy + r * dim, dxr = dx + r * dim
        let s = rstd[r]
        var acc = SIMD16<Float>()
        var i = 0
        while i + 16 <= dim { acc = acc.addingProduct(loadFloats(xr + i) * loadFloats(weight + i), loadFloats(dyr + i)); i += 16 }
        var dotXWdy = horizontalSum(acc)
        while i < dim { dotXWdy += xr[i] * weight[i] * dyr[i]; i += 1 }
        let c = s * s * s * dotXWdy / Float(dim)
        i = 0
        let s16 = SIMD16<Float>(repeating: s), c16 = SIMD16<Float>(repeating: c)
        while i + 16 <= dim {
            let g = loadFloats(weight + i) * loadFloats(dyr + i) * s16 - loadFloats(xr + i) * c16
            storeFloats(loadFloats(dxr + i) + g, dxr + i)
            i += 16
        }
        while i < dim { dxr[i] += weight[i] * dyr[i] * s - xr[i] * c; i += 1 }
    }
}
