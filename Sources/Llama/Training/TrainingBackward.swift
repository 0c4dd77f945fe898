// TrainingBackward: gradients of a loss on response log-probabilities with respect to one adapter's A and B
// matrices (the base model is frozen: no weight gradients, only dX through every layer), from the
// activations the forward saved. Gradients are added to `gradients`, so micro-batches accumulate.

import ProximaNumerics

/// dLoss/d(log π) for each response of each pair.
public struct PairLogProbGradients: Sendable, Equatable {
    public var chosen: Float
    public var rejected: Float
    public init(chosen: Float, rejected: Float) { self.chosen = chosen; self.rejected = rejected }
}

extension LlamaWeights {
    /// The backward of a batch of pairs, with dLoss/d(log π) per pair's chosen and rejected response.
    public func trainingBackward(_ batch: TrainingBatch, dLogProbs: [PairLogProbGradients], lora: LoRATensors,
                                 gradients: LoRATensors, activations acts: TrainingActivations, pool: ComputePool?,
                                 profile: StepProfile? = nil, checkpoint: () -> Void = {}) {
        precondition(dLogProbs.count == batch.groups.count && batch.groups.allSatisfy { $0.responses.count == 2 })
        trainingBackward(batch, dSequences: dLogProbs.flatMap { [$0.chosen, $0.rejected] }, lora: lora, gradients: gradients,
                         activations: acts, pool: pool, profile: profile, checkpoint: checkpoint)
    }

    /// Adds dLoss/dA and dLoss/dB of `lora` to `gradients`, given dLoss/d(log π) of each response of `batch`
    /// (in the batch's order), after a forward of `batch` with `lora` (which left each logit row's
    /// probabilities in the arena). `checkpoint` is called after every block; `profile`, when given, gets the
    /// time of each kind of work.
    public func trainingBackward(_ batch: TrainingBatch, dSequences: [Float], lora: LoRATensors,
                                 gradients: LoRATensors, activations acts: TrainingActivations, pool: ComputePool?,
                                 profile: StepProfile? = nil, checkpoint: () -> Void = {}) {
        precondition(dSequences.count == batch.sequenceCount && gradients.layout == lora.layout)
        let c = config
        let n = batch.rowCount, m = batch.logitRowCount, v = c.vocabSize
        let shape = TreeAttentionShape(heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim)

        // d log p(target)/d logits = onehot(target) − p, so the gradient of logit row i's normed input is
        // Σ_targets d·W[target] − coefficient_i·(p_i·W), where coefficient_i sums the d of the targets predicted
        // from row i (W the head, [vocab × dim]): the product runs on the probabilities as the forward left them.
        var coefficient = [Float](repeating: 0, count: m)
        for (s, d) in dSequences.enumerated() { for t in batch.targets[s] { coefficient[t.logit] += d } }
        let head = outputHead.dense, dFinal = acts.dFinal.pointer
        for start in stride(from: 0, to: m, by: headBlockRows) {
            timed(profile, .headBackward) {
                BLAS.gemm(.none, .none, m: min(headBlockRows, m - start), n: c.dim, k: v, a: acts.probabilities.pointer + start * v,
                          lda: v, b: head, ldb: c.dim, c: dFinal + start * c.dim, ldc: c.dim, pool: pool)
            }
            checkpoint()
        }
        for i in 0..<m { scale(dFinal + i * c.dim, c.dim, by: -coefficient[i]) }
        for (s, d) in dSequences.enumerated() {
            for t in batch.targets[s] { add(head + t.token * c.dim, scaledBy: d, into: dFinal + t.logit * c.dim, c.dim) }
        }
        let dX = acts.dResidual.pointer
        dX.update(repeating: 0, count: n * c.dim)
        for (i, row) in batch.logitRows.enumerated() {
            rmsNormBackward(dx: dX + row * c.dim, dy: dFinal + i * c.dim, x: acts.output.pointer + row * c.dim,
                            weight: outputNorm.pointer, rstd: acts.finalRstd.pointer + i, rows: 1, dim: c.dim)
        }

        for l in layers.indices.reversed() {
            let layer = layers[l], a = acts.layers[l]
            /// dx (=|+=) dy·W and the adapter's gradients for a linear layer whose input was x; no dx (nil) for
            /// the first block's attention projections, whose input gradient nothing needs.
            func linearBackward(_ role: LinearRole, _ w: LinearWeight, dy: UnsafePointer<Float>, x: UnsafePointer<Float>,
                                dx: UnsafeMutablePointer<Float>?, accumulate: Bool) {
                if let dx {
                    timed(profile, .linearBackward) {
                        BLAS.gemm(.none, .none, m: n, n: w.cols, k: w.rows, a: dy, lda: w.rows, b: w.dense, ldb: w.cols,
                                  beta: accumulate ? 1 : 0, c: dx, ldc: w.cols, pool: pool)
                    }
                }
                guard let A = lora.a(layer: l, role: role), let B = lora.b(layer: l, role: role),
                      let dA = gradients.a(layer: l, role: role), let dB = gradients.b(layer: l, role: role) else { return }
                let r = lora.layout.lora.rank, s = lora.layout.lora.scale
                let u = a.loraU[role]!.pointer, dU = acts.dU.pointer
                timed(profile, .loraBackward) {
                    BLAS.gemm(.transposed, .none, m: w.rows, n: r, k: n, alpha: s, a: dy, lda: w.rows, b: u, ldb: r,
                              beta: 1, c: dB, ldc: r, pool: pool)
                    BLAS.gemm(.none, .none, m: n, n: r, k: w.rows, alpha: s, a: dy, lda: w.rows, b: B, ldb: r,
                              c: dU, ldc: r, pool: pool)
                    BLAS.gemm(.transposed, .none, m: r, n: w.cols, k: n, a: dU, lda: r, b: x, ldb: w.cols,
                              beta: 1, c: dA, ldc: w.cols, pool: pool)
                    if let dx {
                        BLAS.gemm(.none, .none, m: n, n: w.cols, k: r, a: dU, lda: r, b: A, ldb: w.cols,
                                  beta: 1, c: dx, ldc: w.cols, pool: pool)
                    }
                }
            }

            // Feed-forward block: dX is the gradient of the block's output.
            let hidden = acts.hidden.pointer
            trainingRows(n, pool) { r in
                let o = r.lowerBound * c.ffnDim
                swigluForward(out: hidden + o, gate: a.gate.pointer + o, up: a.up.pointer + o, count: r.count * c.ffnDim)
            }
            // The adapter's gradients need the hidden input before it is overwritten by its own gradient.
            let dHidden = acts.dGate.pointer
            linearBackward(.down, layer.down, dy: dX, x: hidden, dx: dHidden, accumulate: false)
            hidden.update(from: dHidden, count: n * c.ffnDim)
            trainingRows(n, pool) { r in
                let o = r.lowerBound * c.ffnDim
                swigluBackward(dgate: acts.dGate.pointer + o, dup: acts.dUp.pointer + o, dout: hidden + o,
                               gate: a.gate.pointer + o, up: a.up.pointer + o, count: r.count * c.ffnDim)
            }
            linearBackward(.gate, layer.gate, dy: acts.dGate.pointer, x: a.normed2.pointer, dx: acts.dNormed.pointer, accumulate: false)
            linearBackward(.up, layer.up, dy: acts.dUp.pointer, x: a.normed2.pointer, dx: acts.dNormed.pointer, accumulate: true)
            let dMiddle = acts.dMiddle.pointer
            dMiddle.update(from: dX, count: n * c.dim)
            trainingRows(n, pool) { r in
                let o = r.lowerBound * c.dim
                rmsNormBackward(dx: dMiddle + o, dy: acts.dNormed.pointer + o, x: a.middle.pointer + o,
                                weight: layer.ffnNorm.pointer, rstd: a.rstd2.pointer + r.lowerBound, rows: r.count, dim: c.dim)
            }

            checkpoint()

            // Attention block.
            linearBackward(.output, layer.output, dy: dMiddle, x: a.attention.pointer, dx: acts.dAttention.pointer, accumulate: false)
            acts.dq.zero(); acts.dk.zero(); acts.dv.zero()
            timed(profile, .attentionBackward) {
                treeAttentionBackward(dq: acts.dq.pointer, dk: acts.dk.pointer, dv: acts.dv.pointer, dout: acts.dAttention.pointer,
                                      out: a.attention.pointer, lse: a.lse.pointer, q: a.q.pointer, k: a.k.pointer, v: a.v.pointer,
                                      rowCount: n, groups: batch.attentionGroups, shape: shape, pool: pool)
            }
            // Scratch for the head norms' backward: dAttention is spent (the attention backward read it) and the
            // hidden activations are recomputed by the next block's backward.
            trainingRows(n, pool) { r in
                layer.prepareAttentionInputsBackward(dq: acts.dq.pointer + r.lowerBound * c.qDim, dk: acts.dk.pointer + r.lowerBound * c.kvDim,
                                                     rows: r.count, config: c, table: acts.rope.pointer + r.lowerBound * c.headDim,
                                                     saved: a.headNormInputs(from: r.lowerBound, config: c),
                                                     scratch: (acts.dAttention.pointer + r.lowerBound * c.qDim, acts.hidden.pointer + r.lowerBound * c.kvDim))
            }
            // The first block's input is the embedding rows, which are not trained: no gradient past its projections.
            let dNormed = l > 0 ? acts.dNormed.pointer : nil
            linearBackward(.query, layer.query, dy: acts.dq.pointer, x: a.normed1.pointer, dx: dNormed, accumulate: false)
            linearBackward(.key, layer.key, dy: acts.dk.pointer, x: a.normed1.pointer, dx: dNormed, accumulate: true)
            linearBackward(.value, layer.value, dy: acts.dv.pointer, x: a.normed1.pointer, dx: dNormed, accumulate: true)
            if l > 0 {
                dX.update(from: dMiddle, count: n * c.dim)
                trainingRows(n, pool) { r in
                    let o = r.lowerBound * c.dim
                    rmsNormBackward(dx: dX + o, dy: acts.dNormed.pointer + o, x: a.input.pointer + o,
                                    weight: layer.attentionNorm.pointer, rstd: a.rstd1.pointer + r.lowerBound, rows: r.count, dim: c.dim)
                }
            }
            checkpoint()
        }
    }
}
