// TreeAttention: causal attention for training batches where several branches share a prefix (a prompt
// followed by its chosen and its rejected response), forward and backward over sgemm. The forward saves
// each row's log-sum-exp; the backward recomputes the probabilities from it (no T×L matrix is kept).

/// Queries `rows` attend to the fully visible `prefix` rows (if any) and, causally, to themselves:
/// query t sees rows.lowerBound ... rows.lowerBound + t.
public struct AttentionBlock: Sendable, Equatable {
    public var rows: Range<Int>
    public var prefix: Range<Int>?

    public init(rows: Range<Int>, prefix: Range<Int>?) {
        self.rows = rows
        self.prefix = prefix
    }

    var keyCount: Int { (prefix?.count ?? 0) + rows.count }
}

/// Shapes shared by the forward and backward passes.
public struct TreeAttentionShape: Sendable {
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public init(heads: Int, kvHeads: Int, headDim: Int) { self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim }
    var qStride: Int { heads * headDim }
    var kvStride: Int { kvHeads * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }
}

/// out = softmax(Q·Kᵀ·scale) · V per block and head; lse[h · rowCount + row] = log Σ exp(scores of row).
/// `groups` lists blocks that share keys (one pair each); groups must not share rows.
public func treeAttentionForward(out: UnsafeMutablePointer<Float>, lse: UnsafeMutablePointer<Float>,
                                 q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                 rowCount: Int, groups: [[AttentionBlock]], shape: TreeAttentionShape, pool: ComputePool?) {
    let work = { (task: Int) in
        let group = groups[task / shape.heads]
        let h = task % shape.heads
        let kv = (h / (shape.heads / shape.kvHeads)) * shape.headDim
        for block in group where !block.rows.isEmpty {
            let t = block.rows.count, l = block.keyCount
            let s = UnsafeMutablePointer<Float>.allocate(capacity: t * l)
            defer { s.deallocate() }
            scores(s, q: q, k: k, block: block, h: h, kv: kv, shape: shape)
            for i in 0..<t {
                let row = s + i * l
                let visible = l - t + i + 1
                lse[h * rowCount + block.rows.lowerBound + i] = softmaxInPlace(row, visible)
                (row + visible).update(repeating: 0, count: l - visible)
            }
            // out = P · V over the prefix keys, then the block's own keys.
            let o = out + block.rows.lowerBound * shape.qStride + h * shape.headDim
            var column = 0
            for keys in [block.prefix, block.rows].compactMap({ $0 }) {
                BLAS.gemm(.none, .none, m: t, n: shape.headDim, k: keys.count, a: s + column, lda: l,
                          b: v + keys.lowerBound * shape.kvStride + kv, ldb: shape.kvStride,
                          beta: column == 0 ? 0 : 1, c: o, ldc: shape.qStride, pool: nil)
                column += keys.count
            }
        }
    }
    let tasks = groups.count * shape.heads
    if let pool { pool.parallelFor(tasks, work) } else { for i in 0..<tasks { work(i) } }
}

/// Adds the gradients of `treeAttentionForward` to dq, dk and dv, given dout and the forward's out and lse.
public func treeAttentionBackward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                  dout: UnsafePointer<Float>, out: UnsafePointer<Float>, lse: UnsafePointer<Float>,
                                  q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                  rowCount: Int, groups: [[AttentionBlock]], shape: TreeAttentionShape, pool: ComputePool?) {
    let group = shape.heads / shape.kvHeads
    // One task per (pair, KV head): the heads sharing a KV head add into the same dk/dv rows.
    let work = { (task: Int) in
        let blocks = groups[task / shape.kvHeads]
        let g = task % shape.kvHeads
        let kv = g * shape.headDim
        for h in (g * group)..<((g + 1) * group) {
            for block in blocks where !block.rows.isEmpty {
                let t = block.rows.count, l = block.keyCount
                let p = UnsafeMutablePointer<Float>.allocate(capacity: 2 * t * l)
                defer { p.deallocate() }
                let ds = p + t * l
                let first = block.rows.lowerBound
                let qh = q + first * shape.qStride + h * shape.headDim
                let doh = dout + first * shape.qStride + h * shape.headDim
                scores(p, q: q, k: k, block: block, h: h, kv: kv, shape: shape)
                var column = 0
                for keys in [block.prefix, block.rows].compactMap({ $0 }) {
                    // dP = dO · Vᵀ
                    BLAS.gemm(.none, .transposed, m: t, n: keys.count, k: shape.headDim, a: doh, lda: shape.qStride,
                              b: v + keys.lowerBound * shape.kvStride + kv, ldb: shape.kvStride, c: ds + column, ldc: l, pool: nil)
                    column += keys.count
                }
                for i in 0..<t {
                    let row = p + i * l, drow = ds + i * l
                    let visible = l - t + i + 1
                    let m = lse[h * rowCount + first + i]
                    let d = dot(doh + i * shape.qStride, out + (first + i) * shape.qStride + h * shape.headDim, shape.headDim)
                    expInPlace(row, visible, subtracting: m)
                    for j in 0..<visible { drow[j] = row[j] * (drow[j] - d) * shape.scale }
                    for j in visible..<l { row[j] = 0; drow[j] = 0 }
                }
                // dQ += dS·K, dK += dSᵀ·Q, dV += Pᵀ·dO, range by range.
                column = 0
                for keys in [block.prefix, block.rows].compactMap({ $0 }) {
                    let kr = keys.lowerBound * shape.kvStride + kv
                    BLAS.gemm(.none, .none, m: t, n: shape.headDim, k: keys.count, a: ds + column, lda: l,
                              b: k + kr, ldb: shape.kvStride, beta: 1, c: dq + first * shape.qStride + h * shape.headDim,
                              ldc: shape.qStride, pool: nil)
                    BLAS.gemm(.transposed, .none, m: keys.count, n: shape.headDim, k: t, a: ds + column, lda: l,
                              b: qh, ldb: shape.qStride, beta: 1, c: dk + kr, ldc: shape.kvStride, pool: nil)
                    BLAS.gemm(.transposed, .none, m: keys.count, n: shape.headDim, k: t, a: p + column, lda: l,
                              b: doh, ldb: shape.qStride, beta: 1, c: dv + kr, ldc: shape.kvStride, pool: nil)
                    column += keys.count
                }
            }
        }
    }
    let tasks = groups.count * shape.kvHeads
    if let pool { pool.parallelFor(tasks, work) } else { for i in 0..<tasks { work(i) } }
}

/// S = Q_h · K_hᵀ · scale for one block: the prefix columns, then the block's own.
private func scores(_ s: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, k: UnsafePointer<Float>,
                    block: AttentionBlock, h: Int, kv: Int, shape: TreeAttentionShape) {
    let t = block.rows.count, l = block.keyCount
    let qh = q + block.rows.lowerBound * shape.qStride + h * shape.headDim
    var column = 0
    for keys in [block.prefix, block.rows].compactMap({ $0 }) {
        BLAS.gemm(.none, .transposed, m: t, n: keys.count, k: shape.headDim, alpha: shape.scale, a: qh, lda: shape.qStride,
                  b: k + keys.lowerBound * shape.kvStride + kv, ldb: shape.kvStride, c: s + column, ldc: l, pool: nil)
        column += keys.count
    }
}
