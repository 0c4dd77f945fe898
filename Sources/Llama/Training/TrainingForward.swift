// TrainingForward: the full-model forward pass for training, on fp32 weights through sgemm, with an
// optional adapter; saves what the backward needs and returns each response's summed log-probability.

import ProximaNumerics

extension LlamaWeights {
    /// Runs `batch` through the model plus `adapter` (nil: the base model), keeping activations in `acts`.
    /// Returns, per pair, log π(chosen | prompt) and log π(rejected | prompt) (sums over response tokens).
    /// `checkpoint` is called after every block (a caller sharing the cores can yield there).
    public func trainingForward(_ batch: TrainingBatch, adapter: (any LinearAdapter)?, activations acts: TrainingActivations,
                                pool: ComputePool?, checkpoint: () -> Void = {}) -> [PairLogProbs] {
        let c = config
        let n = batch.rowCount, m = batch.logitRowCount
        precondition(n <= acts.maxRows && m <= acts.maxLogitRows, "batch of \(n) rows / \(m) logit rows exceeds the arena")
        precondition((adapter?.rank ?? 0) <= acts.adapterRank, "adapter rank exceeds the arena's")
        let shape = TreeAttentionShape(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim)

        let embedding = tokenEmbedding.dense
        for (r, token) in batch.tokens.enumerated() {
            (acts.layers[0].input.pointer + r * c.dim).update(from: embedding + token * c.dim, count: c.dim)
        }
        ropeTable(positions: batch.positions, headDim: c.headDim, base: c.ropeBase, into: acts.rope.pointer)

        for (l, layer) in layers.enumerated() {
            let a = acts.layers[l]
            let next = l + 1 < layers.count ? acts.layers[l + 1].input.pointer : acts.output.pointer
            func linear(_ role: LinearRole, _ w: LinearWeight, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
                BLAS.gemm(.none, .transposed, m: n, n: w.rows, k: w.cols, a: x, lda: w.cols, b: w.dense, ldb: w.cols,
                          c: y, ldc: w.rows, pool: pool)
                if let delta = adapter?.delta(layer: l, role: role) { delta.apply(x, y, u: a.loraU[role]!.pointer, m: n, pool: pool) }
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
                let table = acts.rope.pointer + r.lowerBound * c.headDim
                ropeForward(a.q.pointer + r.lowerBound * c.dim, rows: r.count, stride: c.dim, heads: c.headCount, headDim: c.headDim, table: table)
                ropeForward(a.k.pointer + r.lowerBound * c.kvDim, rows: r.count, stride: c.kvDim, heads: c.kvHeadCount, headDim: c.headDim, table: table)
            }
            treeAttentionForward(out: a.attention.pointer, lse: a.lse.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer,
                                 rowCount: n, groups: batch.groups, shape: shape, pool: pool)
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
        let v = c.vocabSize
        let probabilities = acts.probabilities.pointer
        BLAS.gemm(.none, .transposed, m: m, n: v, k: c.dim, a: acts.finalNormed.pointer, lda: c.dim, b: outputHead.dense,
                  ldb: c.dim, c: probabilities, ldc: v, pool: pool)
        var logSums = [Float](repeating: 0, count: m)
        logSums.withUnsafeMutableBufferPointer { lse in
            let lse = lse
            trainingRows(m, pool) { r in for i in r { lse[i] = logSumExp(probabilities + i * v, v) } }
        }
        var results: [PairLogProbs] = []
        for p in batch.pairs.indices {
            func sequence(_ s: Int) -> Double {
                batch.targets[s].reduce(0.0) { $0 + Double(probabilities[$1.logit * v + $1.token] - logSums[$1.logit]) }
            }
            results.append(PairLogProbs(chosen: sequence(2 * p), rejected: sequence(2 * p + 1),
                                        chosenTokens: batch.targets[2 * p].count, rejectedTokens: batch.targets[2 * p + 1].count))
        }
        trainingRows(m, pool) { r in for i in r { expInPlace(probabilities + i * v, v, subtracting: logSums[i]) } }
        return results
    }
}

/// Row-parallel loop for element-wise work of a training pass.
@inline(__always) func trainingRows(_ n: Int, _ pool: ComputePool?, _ body: (Range<Int>) -> Void) {
    if let pool, n >= 8 { pool.parallelRanges(n, body) } else { body(0..<n) }
}
