// LlamaInference: the batched forward pass for serving. One call runs any mix of prefill chunks and
// decode steps of several sequences (continuous batching), appending their keys and values to each cache.

import ProximaNumerics

/// One token row of a forward batch.
public struct ForwardRow {
    public var token: Int
    public var position: Int
    public var cache: KVCache
    /// Whether this row's next-token logits are wanted (the last prompt row, every decode row).
    public var wantsLogits: Bool

    public init(token: Int, position: Int, cache: KVCache, wantsLogits: Bool) {
        self.token = token; self.position = position; self.cache = cache; self.wantsLogits = wantsLogits
    }
}

extension LlamaWeights {
    /// Runs `rows` through the model plus `adapter` (if any). Rows of one sequence must be contiguous, in
    /// position order, and start at that cache's current length. Returns the logits of the rows that want
    /// them, in row order ([count × vocab], valid until the workspace is used again).
    public func forward(_ rows: [ForwardRow], adapter: (any LinearAdapter)? = nil, workspace ws: InferenceWorkspace,
                        pool: ComputePool?) -> UnsafeMutablePointer<Float> {
        let c = config
        let m = rows.count
        precondition(m > 0 && m <= ws.maxRows, "batch of \(m) rows exceeds the workspace (\(ws.maxRows))")
        let segments = makeSegments(rows)
        for s in segments { rows[s.firstRow].cache.reserve(s.firstPosition + s.rowCount) }

        // Embedding and RoPE angles (shared by all layers).
        for (r, row) in rows.enumerated() {
            precondition(row.token >= 0 && row.token < c.vocabSize, "token \(row.token) outside the vocabulary")
            tokenEmbedding.copyRow(row.token, into: ws.x.pointer + r * c.dim)
        }
        ropeTable(positions: rows.map(\.position), headDim: c.headDim, base: c.ropeBase, factors: c.ropeFactors, into: ws.rope.pointer)
        let u = adapter.map { ws.adapterScratch(rank: $0.rank) }
        /// y += the adapter's delta for (layer, role) applied to x.
        func adapt(_ layer: Int, _ role: LinearRole, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
            guard let u, let delta = adapter?.delta(layer: layer, role: role) else { return }
            delta.apply(x, y, u: u, m: m, pool: pool)
        }

        for (l, layer) in layers.enumerated() {
            // Attention block.
            rowParallel(m, pool) { r in
                rmsNormForward(out: ws.normed.pointer + r.lowerBound * c.dim, rstd: nil, x: ws.x.pointer + r.lowerBound * c.dim,
                               weight: layer.attentionNorm.pointer, rows: r.count, dim: c.dim, eps: c.normEps)
            }
            LinearWeight.applyAll([(layer.query, ws.q.pointer), (layer.key, ws.k.pointer), (layer.value, ws.v.pointer)],
                                  to: ws.normed.pointer, m: m, pool: pool)
            adapt(l, .query, ws.normed.pointer, ws.q.pointer)
            adapt(l, .key, ws.normed.pointer, ws.k.pointer)
            adapt(l, .value, ws.normed.pointer, ws.v.pointer)
            rowParallel(m, pool) { r in
                layer.prepareAttentionInputs(q: ws.q.pointer + r.lowerBound * c.qDim, k: ws.k.pointer + r.lowerBound * c.kvDim,
                                             v: ws.v.pointer + r.lowerBound * c.kvDim, rows: r.count, config: c,
                                             table: ws.rope.pointer + r.lowerBound * c.headDim)
            }
            var attentionSegments: [AttentionSegment] = []
            attentionSegments.reserveCapacity(segments.count)
            for s in segments {
                let cache = rows[s.firstRow].cache
                let keys = cache.keys(layer: l), values = cache.values(layer: l)
                (keys + s.firstPosition * c.kvDim).update(from: ws.k.pointer + s.firstRow * c.kvDim, count: s.rowCount * c.kvDim)
                (values + s.firstPosition * c.kvDim).update(from: ws.v.pointer + s.firstRow * c.kvDim, count: s.rowCount * c.kvDim)
                attentionSegments.append(AttentionSegment(firstRow: s.firstRow, rowCount: s.rowCount, firstPosition: s.firstPosition,
                                                          keys: keys, values: values, kvStride: c.kvDim))
            }
            attentionForward(out: ws.attention.pointer, q: ws.q.pointer, stride: c.qDim, segments: attentionSegments,
                             heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim, pool: pool)
            layer.output.apply(ws.attention.pointer, ws.projected.pointer, m: m, pool: pool)
            adapt(l, .output, ws.attention.pointer, ws.projected.pointer)
            add(ws.projected.pointer, into: ws.x.pointer, m * c.dim)

            // Feed-forward block.
            rowParallel(m, pool) { r in
                rmsNormForward(out: ws.normed.pointer + r.lowerBound * c.dim, rstd: nil, x: ws.x.pointer + r.lowerBound * c.dim,
                               weight: layer.ffnNorm.pointer, rows: r.count, dim: c.dim, eps: c.normEps)
            }
            LinearWeight.applyAll([(layer.gate, ws.gate.pointer), (layer.up, ws.up.pointer)], to: ws.normed.pointer, m: m, pool: pool)
            adapt(l, .gate, ws.normed.pointer, ws.gate.pointer)
            adapt(l, .up, ws.normed.pointer, ws.up.pointer)
            rowParallel(m, pool) { r in
                swigluForward(out: ws.gate.pointer + r.lowerBound * c.ffnDim, gate: ws.gate.pointer + r.lowerBound * c.ffnDim,
                              up: ws.up.pointer + r.lowerBound * c.ffnDim, count: r.count * c.ffnDim)
            }
            layer.down.apply(ws.gate.pointer, ws.projected.pointer, m: m, pool: pool)
            adapt(l, .down, ws.gate.pointer, ws.projected.pointer)
            add(ws.projected.pointer, into: ws.x.pointer, m * c.dim)
        }
        for s in segments { rows[s.firstRow].cache.length = s.firstPosition + s.rowCount }

        // Output head for the rows that want logits.
        var n = 0
        for (r, row) in rows.enumerated() where row.wantsLogits {
            rmsNormForward(out: ws.normed.pointer + n * c.dim, rstd: nil, x: ws.x.pointer + r * c.dim,
                           weight: outputNorm.pointer, rows: 1, dim: c.dim, eps: c.normEps)
            n += 1
        }
        if n > 0 { outputHead.apply(ws.normed.pointer, ws.logits.pointer, m: n, pool: pool) }
        return ws.logits.pointer
    }

    /// Groups rows into per-sequence runs of consecutive positions, checking they extend their caches.
    private func makeSegments(_ rows: [ForwardRow]) -> [(firstRow: Int, rowCount: Int, firstPosition: Int)] {
        var segments: [(firstRow: Int, rowCount: Int, firstPosition: Int)] = []
        var seen = Set<ObjectIdentifier>()
        var r = 0
        while r < rows.count {
            let cache = rows[r].cache
            precondition(rows[r].position == cache.length, "row \(r): position \(rows[r].position) does not extend its cache (length \(cache.length))")
            precondition(seen.insert(ObjectIdentifier(cache)).inserted, "a sequence's rows must be contiguous in a batch")
            var end = r + 1
            while end < rows.count, rows[end].cache === cache {
                precondition(rows[end].position == rows[end - 1].position + 1, "row \(end): positions must be consecutive")
                end += 1
            }
            precondition(rows[end - 1].position < config.contextLength, "position \(rows[end - 1].position) is past the context length \(config.contextLength)")
            segments.append((r, end - r, rows[r].position))
            r = end
        }
        return segments
    }
}

/// Runs `body` over row ranges, in parallel when there are enough rows to be worth it.
@inline(__always) func rowParallel(_ m: Int, _ pool: ComputePool?, _ body: (Range<Int>) -> Void) {
    if let pool, m >= 16 { pool.parallelRanges(m, body) } else { body(0..<m) }
}
