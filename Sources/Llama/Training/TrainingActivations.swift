// TrainingActivations: everything the training forward saves for the backward, as named buffers sized once
// for a maximum number of rows (llm.c style: no allocation per step), plus the backward's scratch.

import ProximaNumerics

/// Saved activations of one transformer block for N rows.
final class LayerActivations {
    let input: FloatBuffer      // [N × dim] residual stream entering the block
    let normed1: FloatBuffer    // [N × dim] attention RMSNorm output
    let rstd1: FloatBuffer      // [N]
    let q: FloatBuffer          // [N × qDim] after RoPE
    let k: FloatBuffer          // [N × kvDim] after RoPE
    let v: FloatBuffer          // [N × kvDim]
    let attention: FloatBuffer  // [N × qDim] attention output (input of the o projection)
    let lse: FloatBuffer        // [heads × N] log-sum-exp of each row's scores
    let middle: FloatBuffer     // [N × dim] residual after attention
    let normed2: FloatBuffer    // [N × dim] feed-forward RMSNorm output
    let rstd2: FloatBuffer      // [N]
    let gate: FloatBuffer       // [N × ffnDim] before activation
    let up: FloatBuffer         // [N × ffnDim]
    /// Qwen3: q and k before their head norms, and each head's 1/rms ([N × heads], [N × kvHeads]).
    let headNormed: (q: FloatBuffer, k: FloatBuffer, qRstd: FloatBuffer, kRstd: FloatBuffer)?
    /// x·Aᵀ of each adapted linear [N × rank], by role.
    var loraU: [LinearRole: FloatBuffer] = [:]

    init(_ c: LlamaConfig, rows n: Int, adapterRank: Int, targets: [LinearRole]) {
        input = FloatBuffer(count: n * c.dim)
        normed1 = FloatBuffer(count: n * c.dim)
        rstd1 = FloatBuffer(count: n)
        q = FloatBuffer(count: n * c.qDim)
        k = FloatBuffer(count: n * c.kvDim)
        v = FloatBuffer(count: n * c.kvDim)
        attention = FloatBuffer(count: n * c.qDim)
        lse = FloatBuffer(count: c.headCount * n)
        middle = FloatBuffer(count: n * c.dim)
        normed2 = FloatBuffer(count: n * c.dim)
        rstd2 = FloatBuffer(count: n)
        gate = FloatBuffer(count: n * c.ffnDim)
        up = FloatBuffer(count: n * c.ffnDim)
        headNormed = c.architecture.hasHeadNorms
            ? (FloatBuffer(count: n * c.qDim), FloatBuffer(count: n * c.kvDim), FloatBuffer(count: n * c.headCount), FloatBuffer(count: n * c.kvHeadCount))
            : nil
        for role in targets { loraU[role] = FloatBuffer(count: n * adapterRank) }
    }

    /// The head-norm inputs of rows from `row` on (Qwen3), or nil.
    func headNormInputs(from row: Int, config c: LlamaConfig) -> HeadNormInputs? {
        headNormed.map { HeadNormInputs(q: $0.q.pointer + row * c.qDim, k: $0.k.pointer + row * c.kvDim,
                                        qRstd: $0.qRstd.pointer + row * c.headCount, kRstd: $0.kRstd.pointer + row * c.kvHeadCount) }
    }
}

/// The arena for one training pass of up to `maxRows` rows and `maxLogitRows` logit rows.
public final class TrainingActivations: @unchecked Sendable {
    public let maxRows: Int
    public let maxLogitRows: Int
    public let adapterRank: Int
    let layers: [LayerActivations]
    let output: FloatBuffer         // [N × dim] residual stream after the last block
    let finalNormed: FloatBuffer    // [M × dim] output RMSNorm of the logit rows
    let finalRstd: FloatBuffer      // [M]
    let probabilities: FloatBuffer  // [M × vocab] softmax of the logits (kept for the backward)
    let rope: FloatBuffer           // [N × headDim]

    // Backward scratch.
    let dResidual: FloatBuffer      // [N × dim]
    let dMiddle: FloatBuffer        // [N × dim]
    let dNormed: FloatBuffer        // [N × dim]
    let dAttention: FloatBuffer     // [N × qDim]
    let dq: FloatBuffer             // [N × qDim]
    let dk: FloatBuffer             // [N × kvDim]
    let dv: FloatBuffer             // [N × kvDim]
    let dGate: FloatBuffer          // [N × ffnDim]
    let dUp: FloatBuffer            // [N × ffnDim]
    let hidden: FloatBuffer         // [N × ffnDim] silu(gate)·up, recomputed
    let dU: FloatBuffer             // [N × rank]
    let dFinal: FloatBuffer         // [M × dim]

    /// Room for `maxRows` rows and `maxLogitRows` logit rows, with adapters of up to `adapterRank` on
    /// `targets` (rank 0 and no targets for the base model alone).
    public init(config c: LlamaConfig, adapterRank: Int, targets: [LinearRole], maxRows n: Int, maxLogitRows m: Int) {
        maxRows = n
        maxLogitRows = m
        self.adapterRank = adapterRank
        layers = (0..<c.layerCount).map { _ in LayerActivations(c, rows: n, adapterRank: adapterRank, targets: targets) }
        output = FloatBuffer(count: n * c.dim)
        finalNormed = FloatBuffer(count: m * c.dim)
        finalRstd = FloatBuffer(count: m)
        probabilities = FloatBuffer(count: m * c.vocabSize)
        rope = FloatBuffer(count: n * c.headDim)
        dResidual = FloatBuffer(count: n * c.dim)
        dMiddle = FloatBuffer(count: n * c.dim)
        dNormed = FloatBuffer(count: n * c.dim)
        dAttention = FloatBuffer(count: n * c.qDim)
        dq = FloatBuffer(count: n * c.qDim)
        dk = FloatBuffer(count: n * c.kvDim)
        dv = FloatBuffer(count: n * c.kvDim)
        dGate = FloatBuffer(count: n * c.ffnDim)
        dUp = FloatBuffer(count: n * c.ffnDim)
        hidden = FloatBuffer(count: n * c.ffnDim)
        dU = FloatBuffer(count: n * max(adapterRank, 1))
        dFinal = FloatBuffer(count: m * c.dim)
    }
}
