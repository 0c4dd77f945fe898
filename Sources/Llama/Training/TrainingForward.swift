// TrainingForward: the full-model forward pass for training, on fp32 weights through sgemm, with an
// optional adapter; saves what the backward needs and returns each response's summed log-probability.

import ProximaNumerics

extension LlamaWeights {
    /// Runs a batch of pairs through the model plus `adapter` (nil: the base model): per pair, log π(chosen |
    /// prompt) and log π(rejected | prompt) (sums over response tokens). See `trainingForwardSequences`.
    public func trainingForward(_ batch: TrainingBatch, adapter: (any LinearAdapter)?, activations acts: TrainingActivations,
                                pool: ComputePool?, profile: StepProfile? = nil, checkpoint: () -> Void = {}) -> [PairLogProbs] {
        precondition(batch.groups.allSatisfy { $0.responses.count == 2 }, "a batch of pairs")
        let s = trainingForwardSequences(batch, adapter: adapter, activations: acts, pool: pool, profile: profile, checkpoint: checkpoint)
        return batch.groups.indices.map { p in
            PairLogProbs(chosen: s[2 * p].logProb, rejected: s[2 * p + 1].logProb, chosenTokens: s[2 * p].tokens, rejectedTokens: s[2 * p + 1].tokens)
        }
    }

    /// Runs `batch` through the model plus `adapter` (nil: the base model), keeping activations in `acts`.
    /// Returns each response's log π(response | prompt), in the batch's order. `checkpoint` is called after
    /// every block (a caller sharing the cores can yield there); `profile`, when given, gets the time of each
    /// kind of work.
    public func trainingForwardSequences(_ batch: TrainingBatch, adapter: (any LinearAdapter)?, activations acts: TrainingActivations,
                                         pool: ComputePool?, profile: StepProfile? = nil, checkpoint: () -> Void = {}) -> [SequenceLogProb] {
        let c = config
        let n = batch.rowCount, m = batch.logitRowCount
        precondition(n <= acts.maxRows && m <= acts.maxLogitRows, "batch of \(n) rows / \(m) logit rows exceeds the arena")
        precondition((adapter?.rank ?? 0) <= acts.adapterRank, "adapter rank exceeds the arena's")
        let shape = TreeAttentionShape(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim)

        let embedding = tokenEmbedding.dense
        for (r, token) in batch.tokens.enumerated() {
            (acts.layers[0].input.pointer + r * c.dim).update(from: embedding + token * c.dim, count: c.dim)
        }
        ropeTable(positions: batch.positions, headDim: c.headDim, base: c.ropeBase, factors: c.ropeFactors, into: acts.rope.pointer)

        for (l, layer) in layers.enumerated() {
            let a = acts.layers[l]
            let next = l + 1 < layers.count ? acts.layers[l + 1].input.pointer : acts.output.pointer
            func linear(_ role: LinearRole, _ w: LinearWeight, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
                timed(profile, .linearForward) {
                    BLAS.gemm(.none, .transposed, m: n, n: w.rows, k: w.cols, a: x, lda: w.cols, b: w.dense, ldb: w.cols,
                              c: y, ldc: w.rows, pool: pool)
                }
                if let delta = adapter?.delta(layer: l, role: role) {
                    timed(profile, .loraForward) { delta.apply(x, y, u: a.loraU[role]!.pointer, m: n, pool: pool) }
                }
            }
            trainingRows(n, pool) { r in
                rmsNormForward(out: a.normed1.pointer + r.lowerBound * c.dim, rstd: a.rstd1.pointer + r.lowerBound,
                               x: a.input.pointer + r.lowerBound * c.dim, weight: layer.attentionNorm.pointer,
                               rows: r.count, dim: c.dim, eps: c.normEps)
            }
            linear(.query, layer.query, a.normed1.pointer, a.q.pointer)
            linear(.key, layer.key, a.normed1.pointer, a.k.pointer)
            linear(.value, layer.value, a.normed1.pointer, a.v.pointer)
            trainingRows(n, pool) { r in
                layer.prepareAttentionInputs(q: a.q.pointer + r.lowerBound * c.qDim, k: a.k.pointer + r.lowerBound * c.kvDim,
                                             v: a.v.pointer + r.lowerBound * c.kvDim, rows: r.count, config: c,
                                             table: acts.rope.pointer + r.lowerBound * c.headDim, saved: a.headNormInputs(from: r.lowerBound, config: c))
            }
            timed(profile, .attentionForward) {
                treeAttentionForward(out: a.attention.pointer, lse: a.lse.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer,
                                     rowCount: n, groups: batch.attentionGroups, shape: shape, pool: pool)
            }
            linear(.output, layer.output, a.attention.pointer, a.middle.pointer)
            add(a.input.pointer, into: a.middle.pointer, n * c.dim)
            checkpoint()

            trainingRows(n, pool) { r in
                rmsNormForward(out: a.normed2.pointer + r.lowerBound * c.dim, rstd: a.rstd2.pointer + r.lowerBound,
                               x: a.middle.pointer + r.lowerBound * c.dim, weight: layer.ffnNorm.pointer,
                               rows: r.count, dim: c.dim, eps: c.normEps)
            }
            linear(.gate, layer.gate, a.normed2.pointer, a.gate.pointer)
            linear(.up, layer.up, a.normed2.pointer, a.up.pointer)
            trainingRows(n, pool) { r in
                let o = r.lowerBound * c.ffnDim
                swigluForward(out: acts.hidden.pointer + o, gate: a.gate.pointer + o, up: a.up.pointer + o, count: r.count * c.ffnDim)
            }
            linear(.down, layer.down, acts.hidden.pointer, next)
            add(a.middle.pointer, into: next, n * c.dim)
            checkpoint()
        }

        // Output head on the logit rows; the logits become probabilities for the backward.
        for (i, row) in batch.logitRows.enumerated() {
            rmsNormForward(out: acts.finalNormed.pointer + i * c.dim, rstd: acts.finalRstd.pointer + i,
                           x: acts.output.pointer + row * c.dim, weight: outputNorm.pointer, rows: 1, dim: c.dim, eps: c.normEps)
        }
        // In blocks of rows, with a checkpoint after each: the head is the largest product of the pass (768 rows
        // × 49,152 × 576 is a third of a second here), too long to hold the cores in one piece. Each row's
        // logits become its probabilities in place (one exp per entry); the targets' logits are read first.
        let v = c.vocabSize
        let probabilities = acts.probabilities.pointer
        let targets = batch.targets.flatMap { $0 }
        var logProbs = [Double](repeating: 0, count: targets.count)
        for start in stride(from: 0, to: m, by: headBlockRows) {
            let rows = start..<min(m, start + headBlockRows)
            timed(profile, .headForward) {
                BLAS.gemm(.none, .transposed, m: rows.count, n: v, k: c.dim, a: acts.finalNormed.pointer + start * c.dim, lda: c.dim,
                          b: outputHead.dense, ldb: c.dim, c: probabilities + start * v, ldc: v, pool: pool)
            }
            let inBlock = targets.indices.filter { rows.contains(targets[$0].logit) }
            for k in inBlock { logProbs[k] = Double(probabilities[targets[k].logit * v + targets[k].token]) }
            var logSums = [Float](repeating: 0, count: rows.count)
            timed(profile, .softmax) {
                logSums.withUnsafeMutableBufferPointer { lse in
                    let lse = lse
                    trainingRows(rows.count, pool) { r in for i in r { lse[i] = softmaxInPlace(probabilities + (start + i) * v, v) } }
                }
            }
            for k in inBlock { logProbs[k] -= Double(logSums[targets[k].logit - start]) }
            checkpoint()
        }
        var results: [SequenceLogProb] = []
        var next = 0
        for sequence in batch.targets {
            results.append(SequenceLogProb(logProb: logProbs[next..<(next + sequence.count)].reduce(0, +), tokens: sequence.count))
            next += sequence.count
        }
        return results
    }
}

/// Rows of the output head computed between two checkpoints, forward and backward: ≈ 50 ms of work here, like
/// one block of a 1,024-row micro-batch. Each call packs the whole head (113 MB) for its rows, so fewer rows a
/// call cost more: at 64 the head ran at ≈ 115 GFLOP/s against the blocks' 150 (`proxima bench --train --profile`).
let headBlockRows = 128

/// Row-parallel loop for element-wise work of a training pass.
@inline(__always) func trainingRows(_ n: Int, _ pool: ComputePool?, _ body: (Range<Int>) -> Void) {
    if let pool, n >= 8 { pool.parallelRanges(n, body) } else { body(0..<n) }
}
