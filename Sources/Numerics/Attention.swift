// Attention: causal grouped-query attention of query rows over their sequence's keys and values.
// Short segments (decode) use SIMD dot products per row; long ones (prefill) use sgemm per head.

/// Contiguous query rows of one sequence at consecutive positions, with that sequence's keys and values
/// (`keyCount` positions, row stride `kvStride`, the segment's own keys already written).
public struct AttentionSegment {
    public var firstRow: Int
    public var rowCount: Int
    /// Position of the first row; row t sees keys 0...firstPosition + t.
    public var firstPosition: Int
    public var keys: UnsafePointer<Float>
    public var values: UnsafePointer<Float>
    public var kvStride: Int

    public init(firstRow: Int, rowCount: Int, firstPosition: Int, keys: UnsafePointer<Float>,
                values: UnsafePointer<Float>, kvStride: Int) {
        self.firstRow = firstRow; self.rowCount = rowCount; self.firstPosition = firstPosition
        self.keys = keys; self.values = values; self.kvStride = kvStride
    }

    public var keyCount: Int { firstPosition + rowCount }
}

/// Segments with at least this many rows use sgemm.
let blockAttentionRows = 8

/// out[row, h·d ..< (h+1)·d] = softmax(q_h · Kᵀ / √d) · V over visible keys, for every segment and head.
/// Query head h reads key/value head h / (heads / kvHeads). `q` and `out` rows have stride `stride`.
public func attentionForward(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, stride: Int,
                             segments: [AttentionSegment], heads: Int, kvHeads: Int, headDim: Int, pool: ComputePool?) {
    let group = heads / kvHeads
    let scale = 1 / Float(headDim).squareRoot()
    let work = { (task: Int) in
        let seg = segments[task / heads]
        let h = task % heads
        let kvOffset = (h / group) * headDim
        if seg.rowCount >= blockAttentionRows {
            blockAttention(out: out, q: q, stride: stride, seg: seg, head: h, kvOffset: kvOffset, headDim: headDim, scale: scale)
        } else {
            withUnsafeTemporaryAllocation(of: Float.self, capacity: seg.keyCount) { buffer in
                let scores = buffer.baseAddress!
                for t in 0..<seg.rowCount {
                    let row = seg.firstRow + t
                    let qh = q + row * stride + h * headDim
                    let visible = seg.firstPosition + t + 1
                    for j in 0..<visible { scores[j] = dot(qh, seg.keys + j * seg.kvStride + kvOffset, headDim) * scale }
                    softmaxInPlace(scores, visible)
                    weightedSum(scores, seg.values + kvOffset, rowStride: seg.kvStride, count: visible, width: headDim,
                                into: out + row * stride + h * headDim)
                }
            }
        }
    }
    let tasks = segments.count * heads
    if let pool { pool.parallelFor(tasks, work) } else { for t in 0..<tasks { work(t) } }
}

/// One head of one long segment: S = Q·Kᵀ·scale (T × L), causal softmax per row, O = S·V.
func blockAttention(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, stride: Int, seg: AttentionSegment,
                    head h: Int, kvOffset: Int, headDim: Int, scale: Float) {
    let t = seg.rowCount, l = seg.keyCount
    let s = UnsafeMutablePointer<Float>.allocate(capacity: t * l)
    defer { s.deallocate() }
    let qh = q + seg.firstRow * stride + h * headDim
    BLAS.gemm(.none, .transposed, m: t, n: l, k: headDim, alpha: scale, a: qh, lda: stride,
              b: seg.keys + kvOffset, ldb: seg.kvStride, c: s, ldc: l, pool: nil)
    for i in 0..<t {
        let visible = seg.firstPosition + i + 1
        softmaxInPlace(s + i * l, visible)
        (s + i * l + visible).update(repeating: 0, count: l - visible)
    }
    BLAS.gemm(.none, .none, m: t, n: headDim, k: l, a: s, lda: l, b: seg.values + kvOffset, ldb: seg.kvStride,
              c: out + seg.firstRow * stride + h * headDim, ldc: stride, pool: nil)
}

/// out[0..<width] = Σ_j weights[j] · rows[j·rowStride ..< j·rowStride + width]: 64 columns at a time in registers,
/// so each row costs loads and FMAs but no stores.
func weightedSum(_ weights: UnsafePointer<Float>, _ rows: UnsafePointer<Float>, rowStride: Int, count: Int, width: Int,
                 into out: UnsafeMutablePointer<Float>) {
    var c = 0
    while c + 64 <= width {
        var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
        for j in 0..<count {
            let w = SIMD16<Float>(repeating: weights[j]), r = rows + j * rowStride + c
            a0 = a0.addingProduct(w, loadFloats(r)); a1 = a1.addingProduct(w, loadFloats(r + 16))
            a2 = a2.addingProduct(w, loadFloats(r + 32)); a3 = a3.addingProduct(w, loadFloats(r + 48))
        }
        storeFloats(a0, out + c); storeFloats(a1, out + c + 16); storeFloats(a2, out + c + 32); storeFloats(a3, out + c + 48)
        c += 64
    }
    while c + 16 <= width {
        var a = SIMD16<Float>()
        for j in 0..<count { a = a.addingProduct(SIMD16(repeating: weights[j]), loadFloats(rows + j * rowStride + c)) }
        storeFloats(a, out + c)
        c += 16
    }
    while c < width {
        var acc: Float = 0
        for j in 0..<count { acc += weights[j] * rows[j * rowStride + c] }
        out[c] = acc
        c += 1
    }
}
