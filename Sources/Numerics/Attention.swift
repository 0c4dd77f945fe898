// Attention: causal grouped-query attention of query rows over their sequence's keys and values.
// Short segments (decode) use the C kernels of Attention.c per key/value head; long ones (prefill) use sgemm
// per head.

import CKernels

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
/// Long segments run one task per query head (sgemm); short ones (decode) one task per key/value head, whose
/// query heads read its keys and values once between them. When that leaves fewer than two tasks per thread
/// (one decoding sequence), each head's keys are split in parts whose partial softmaxes are merged.
public func attentionForward(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, stride: Int,
                             segments: [AttentionSegment], heads: Int, kvHeads: Int, headDim: Int, pool: ComputePool?) {
    let group = heads / kvHeads
    let scale = 1 / Float(headDim).squareRoot()
    let decodeOnly = segments.allSatisfy { $0.rowCount == 1 }
    let threads = pool?.threadCount ?? 1
    let parts = decodeOnly && segments.count * kvHeads < 2 * threads
        && segments.allSatisfy({ $0.keyCount >= minimumKeysPerPart * 2 }) ? 2 : 1
    var tasks: [(segment: Int, unit: Int)] = []
    for (i, seg) in segments.enumerated() {
        for unit in 0..<(seg.rowCount >= blockAttentionRows ? heads : kvHeads * parts) { tasks.append((i, unit)) }
    }
    // Per (segment, key/value head, part) when split: the unnormalised sums, then each head's max and total.
    let partialSize = group * (headDim + 2)
    withUnsafeTemporaryAllocation(of: Float.self, capacity: parts > 1 ? tasks.count * partialSize : 0) { buffer in
        let partials = parts > 1 ? buffer.baseAddress : nil
        let work = { (task: Int) in
            let (i, unit) = tasks[task]
            let seg = segments[i]
            if seg.rowCount >= blockAttentionRows {
                blockAttention(out: out, q: q, stride: stride, seg: seg, head: unit, kvOffset: (unit / group) * headDim,
                               headDim: headDim, scale: scale)
            } else {
                groupAttention(out: out, q: q, stride: stride, seg: seg, kvHead: unit / parts, group: group, headDim: headDim,
                               scale: scale, part: unit % parts, parts: parts, partial: partials.map { $0 + task * partialSize })
            }
        }
        if let pool { pool.parallelFor(tasks.count, work) } else { for t in tasks.indices { work(t) } }
        guard let partials else { return }
        for (task, (i, unit)) in tasks.enumerated() where unit % parts == 0 {
            mergeParts(partials + task * partialSize, parts: parts, group: group, headDim: headDim,
                       into: out + segments[i].firstRow * stride + (unit / parts) * group * headDim)
        }
    }
}

/// A part of a split key range has at least this many keys.
let minimumKeysPerPart = 32

/// The query heads of key/value head `kvHead` for every row of a short segment, over part `part` of `parts`
/// of each row's visible keys. Whole (parts = 1): writes the rows' outputs. Split (single-row segments): writes
/// to `partial` the unnormalised Σ_j exp(s_j − max)·v_j of each query head, then each head's max, then its Σ exp.
func groupAttention(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, stride: Int, seg: AttentionSegment,
                    kvHead: Int, group: Int, headDim: Int, scale: Float, part: Int, parts: Int,
                    partial: UnsafeMutablePointer<Float>?) {
    let kvOffset = kvHead * headDim, headOffset = kvHead * group * headDim
    withUnsafeTemporaryAllocation(of: Float.self, capacity: group * (seg.keyCount + 2)) { buffer in
        let maxima = buffer.baseAddress!, sums = maxima + group, scores = sums + group
        for t in 0..<seg.rowCount {
            let row = seg.firstRow + t
            let visible = seg.firstPosition + t + 1
            let chunk = (visible + parts - 1) / parts
            let first = part * chunk, count = min(visible, first + chunk) - first
            let target = partial ?? out + row * stride + headOffset
            proxima_attention_scores(q + row * stride + headOffset, seg.keys + first * seg.kvStride + kvOffset,
                                     Int64(seg.kvStride), Int64(count), Int64(group), Int64(headDim), scale, scores)
            for g in 0..<group {
                let s = scores + g * count
                maxima[g] = maximum(s, count)
                expInPlace(s, count, subtracting: maxima[g])
                sums[g] = sum(s, count)
            }
            proxima_attention_mix(scores, seg.values + first * seg.kvStride + kvOffset, Int64(seg.kvStride), Int64(count),
                                  Int64(group), Int64(headDim), target)
            if partial == nil {
                for g in 0..<group { ProximaNumerics.scale(target + g * headDim, headDim, by: 1 / sums[g]) }
            } else {
                (target + group * headDim).update(from: maxima, count: 2 * group)
            }
        }
    }
}

/// out[g·headDim ..< (g+1)·headDim] = the softmax-weighted sum over all keys, from the partial sums of
/// `parts` consecutive key ranges laid out as `groupAttention` writes them (one after another).
func mergeParts(_ partials: UnsafePointer<Float>, parts: Int, group: Int, headDim: Int, into out: UnsafeMutablePointer<Float>) {
    let size = group * (headDim + 2)
    for g in 0..<group {
        var top = -Float.infinity
        for p in 0..<parts { top = max(top, partials[p * size + group * headDim + g]) }
        var total: Float = 0
        let o = out + g * headDim
        o.update(repeating: 0, count: headDim)
        for p in 0..<parts {
            let base = partials + p * size
            let weight = expScalar(base[group * headDim + g] - top)
            total += weight * base[group * headDim + group + g]
            for d in 0..<headDim { o[d] += weight * base[g * headDim + d] }
        }
        scale(o, headDim, by: 1 / total)
    }
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
