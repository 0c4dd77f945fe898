// AttentionInputs: what a block does to its q, k and v projections before attention, shared by the serving
// and the training forward — Qwen2's biases, Qwen3's per-head RMSNorm of q and k, then RoPE.

import ProximaNumerics

/// Where the training forward keeps q and k before their head norms, and each head's 1/rms, for the backward.
struct HeadNormInputs {
    let q: UnsafeMutablePointer<Float>
    let k: UnsafeMutablePointer<Float>
    let qRstd: UnsafeMutablePointer<Float>
    let kRstd: UnsafeMutablePointer<Float>
}

extension LlamaLayerWeights {
    /// Turns `rows` rows of projected q [rows × qDim], k and v [rows × kvDim] into attention's inputs in place:
    /// biases added, heads of q and k normalised (their inputs kept in `saved` when given), q and k rotated by
    /// `table` (ropeTable's rows for these rows).
    func prepareAttentionInputs(q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                                rows: Int, config c: LlamaConfig, table: UnsafePointer<Float>, saved: HeadNormInputs? = nil) {
        if let b = projectionBiases {
            for r in 0..<rows {
                add(b.query.pointer, into: q + r * c.qDim, c.qDim)
                add(b.key.pointer, into: k + r * c.kvDim, c.kvDim)
                add(b.value.pointer, into: v + r * c.kvDim, c.kvDim)
            }
        }
        if let norms = headNorms {
            if let saved {
                saved.q.update(from: q, count: rows * c.qDim)
                saved.k.update(from: k, count: rows * c.kvDim)
            }
            rmsNormForward(out: q, rstd: saved?.qRstd, x: q, weight: norms.query.pointer, rows: rows * c.headCount, dim: c.headDim, eps: c.normEps)
            rmsNormForward(out: k, rstd: saved?.kRstd, x: k, weight: norms.key.pointer, rows: rows * c.kvHeadCount, dim: c.headDim, eps: c.normEps)
        }
        ropeForward(q, rows: rows, stride: c.qDim, heads: c.headCount, headDim: c.headDim, table: table)
        ropeForward(k, rows: rows, stride: c.kvDim, heads: c.kvHeadCount, headDim: c.headDim, table: table)
    }

    /// Backward of `prepareAttentionInputs` on the gradients of q and k, in place (biases have no effect on them;
    /// v is untouched). `saved` is what the forward kept (Qwen3 only).
    func prepareAttentionInputsBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, rows: Int,
                                        config c: LlamaConfig, table: UnsafePointer<Float>, saved: HeadNormInputs?,
                                        scratch: (q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>)) {
        ropeBackward(dq, rows: rows, stride: c.qDim, heads: c.headCount, headDim: c.headDim, table: table)
        ropeBackward(dk, rows: rows, stride: c.kvDim, heads: c.kvHeadCount, headDim: c.headDim, table: table)
        guard let norms = headNorms, let saved else { return }
        scratch.q.update(repeating: 0, count: rows * c.qDim)
        scratch.k.update(repeating: 0, count: rows * c.kvDim)
        rmsNormBackward(dx: scratch.q, dy: dq, x: saved.q, weight: norms.query.pointer, rstd: saved.qRstd, rows: rows * c.headCount, dim: c.headDim)
        rmsNormBackward(dx: scratch.k, dy: dk, x: saved.k, weight: norms.key.pointer, rstd: saved.kRstd, rows: rows * c.kvHeadCount, dim: c.headDim)
        dq.update(from: scratch.q, count: rows * c.qDim)
        dk.update(from: scratch.k, count: rows * c.kvDim)
    }
}
