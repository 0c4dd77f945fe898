// QuantizedMatVec: y = W·x for a few activation vectors at once, reading W in its packed quantisation.
// Per 32-value block, Σ (d·q + m)·x = d·Σ q·x + m·Σ x: the quants are widened once and used for every
// vector, d scales a block's partial sums and the m term is one short dot product per row. fp32 throughout.

/// How many activation vectors one pass over the weights serves (more would spill registers).
let vectorsPerPass = 4

extension PackedMatrix {
    /// y[v·yStride + r] = Σ_c W[r, c] · x[v·xStride + c] for r in `rows`, v in 0..<vectors.
    public func matVec(rows: Range<Int>, x: UnsafePointer<Float>, xStride: Int, vectors: Int,
                       y: UnsafeMutablePointer<Float>, yStride: Int) {
        precondition(vectors >= 1)
        let blocks = blocksPerRow
        // Per vector, the sum of each block of x (for the offsets' share); then room for 4 rows of scales
        // and one of offsets converted to fp32.
        withUnsafeTemporaryAllocation(of: Float.self, capacity: blocks * (vectors + 5) + 16) { buffer in
            let blockSums = buffer.baseAddress!
            for v in 0..<vectors {
                for b in 0..<blocks { blockSums[v * blocks + b] = sum(x + v * xStride + b * 32, 32) }
            }
            let work = Workspace(blockSums: blockSums, scales: blockSums + blocks * vectors,
                                 offsets: blockSums + blocks * (vectors + 4))
            var v0 = 0
            while v0 < vectors {
                let n = min(vectorsPerPass, vectors - v0)
                let xs = x + v0 * xStride, ys = y + v0 * yStride
                let w = Workspace(blockSums: work.blockSums + v0 * blocks, scales: work.scales, offsets: work.offsets)
                switch (format, n) {
                case (.nibbles, 1): pass(Count4.self, Count1.self, NibbleQuants.self, rows, xs, xStride, ys, yStride, w)
                case (.nibbles, 2): pass(Count2.self, Count2.self, NibbleQuants.self, rows, xs, xStride, ys, yStride, w)
                case (.nibbles, 3): pass(Count1.self, Count3.self, NibbleQuants.self, rows, xs, xStride, ys, yStride, w)
                case (.nibbles, _): pass(Count1.self, Count4.self, NibbleQuants.self, rows, xs, xStride, ys, yStride, w)
                case (.bytes, 1): pass(Count4.self, Count1.self, ByteQuants.self, rows, xs, xStride, ys, yStride, w)
                case (.bytes, 2): pass(Count2.self, Count2.self, ByteQuants.self, rows, xs, xStride, ys, yStride, w)
                case (.bytes, 3): pass(Count1.self, Count3.self, ByteQuants.self, rows, xs, xStride, ys, yStride, w)
                case (.bytes, _): pass(Count1.self, Count4.self, ByteQuants.self, rows, xs, xStride, ys, yStride, w)
                }
                v0 += n
            }
        }
    }

    /// Scratch of one matVec call.
    struct Workspace {
        var blockSums: UnsafeMutablePointer<Float>   // [vectors × blocks]
        var scales: UnsafeMutablePointer<Float>      // [4 × blocks]
        var offsets: UnsafeMutablePointer<Float>     // [blocks]
    }

    /// Rows in groups of R (then singly), V vectors each.
    @inline(__always)
    private func pass<R: StaticCount, V: StaticCount, Q: QuantLayout>(
        _: R.Type, _: V.Type, _: Q.Type, _ rows: Range<Int>, _ x: UnsafePointer<Float>, _ xStride: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int, _ work: Workspace
    ) {
        let grouped = rows.count / R.value * R.value
        rowGroups(R.self, V.self, Q.self, rows.lowerBound..<(rows.lowerBound + grouped), x, xStride, y, yStride, work)
        rowGroups(Count1.self, V.self, Q.self, (rows.lowerBound + grouped)..<rows.upperBound, x, xStride, y, yStride, work)
    }

    /// y = Σ_b d_b · Σ_{j∈b} q_j x_j  (+ Σ_b m_b · Σ_{j∈b} x_j), R rows × V vectors at a time.
    @inline(never)
    private func rowGroups<R: StaticCount, V: StaticCount, Q: QuantLayout>(
        _: R.Type, _: V.Type, _: Q.Type, _ rows: Range<Int>, _ x: UnsafePointer<Float>, _ xStride: Int,
        _ y: UnsafeMutablePointer<Float>, _ yStride: Int, _ work: Workspace
    ) {
        let blocks = blocksPerRow
        let qBytes = Q.bytesPerBlock
        var r = rows.lowerBound
        while r < rows.upperBound {
            for rr in 0..<R.value { widenHalves(scales + (r + rr) * blocks, blocks, into: work.scales + rr * blocks) }
            var acc = Accumulators()
            for b in 0..<blocks {
                for rr in 0..<R.value {
                    let (lo, hi) = Q.widen(quants + ((r + rr) * blocks + b) * qBytes)
                    let d = SIMD16<Float>(repeating: work.scales[rr * blocks + b])
                    for v in 0..<V.value {
                        let xv = x + v * xStride + b * 32
                        let partial = (lo * loadFloats(xv)).addingProduct(hi, loadFloats(xv + 16))
                        acc.add(rr * V.value + v, d, partial)
                    }
                }
            }
            for rr in 0..<R.value {
                if let offsets { widenHalves(offsets + (r + rr) * blocks, blocks, into: work.offsets) }
                for v in 0..<V.value {
                    var total = horizontalSum(acc.get(rr * V.value + v))
                    if offsets != nil { total += dot(work.offsets, work.blockSums + v * blocks, blocks) }
                    y[v * yStride + r + rr] = total
                }
            }
            r += R.value
        }
    }
}

/// Converts `count` f16 values to fp32, 16 at a time (the source may be read up to 15 entries past `count`).
@inline(__always) func widenHalves(_ src: UnsafePointer<Float16>, _ count: Int, into dst: UnsafeMutablePointer<Float>) {
    var i = 0
    while i < count {
        let bits = UnsafeRawPointer(src + i).loadUnaligned(as: SIMD16<UInt16>.self)
        storeFloats(widenHalf(bits), dst + i)
        i += 16
    }
}

// MARK: - Quant layouts

/// How a block's quants become two halves of 16 floats (values 0…15 and 16…31).
protocol QuantLayout {
    static var bytesPerBlock: Int { get }
    static func widen(_ p: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>)
}

/// 16 bytes, low nibbles = values 0…15, high nibbles = values 16…31 (Q4_0, Q4_1).
enum NibbleQuants: QuantLayout {
    static var bytesPerBlock: Int { 16 }
    @inline(__always) static func widen(_ p: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        let w = widenToInt32(p.loadUnaligned(as: SIMD16<UInt8>.self))
        return ((w & 0x0F).floats, (w &>> 4).floats)
    }
}

/// 32 signed bytes (Q8_0).
enum ByteQuants: QuantLayout {
    static var bytesPerBlock: Int { 32 }
    @inline(__always) static func widen(_ p: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        (widenSigned(p.loadUnaligned(as: SIMD16<Int8>.self)), widenSigned(p.loadUnaligned(fromByteOffset: 16, as: SIMD16<Int8>.self)))
    }
}

// MARK: - Compile-time counts, so each (rows, vectors) shape is its own fully unrolled specialisation

protocol StaticCount { static var value: Int { get } }
enum Count1: StaticCount { static var value: Int { 1 } }
enum Count2: StaticCount { static var value: Int { 2 } }
enum Count3: StaticCount { static var value: Int { 3 } }
enum Count4: StaticCount { static var value: Int { 4 } }

/// Four accumulators addressed by a compile-time index (after unrolling, each is a register).
struct Accumulators {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()

    @inline(__always) mutating func add(_ i: Int, _ w: SIMD16<Float>, _ x: SIMD16<Float>) {
        switch i {
        case 0: a0 = a0.addingProduct(w, x)
        case 1: a1 = a1.addingProduct(w, x)
        case 2: a2 = a2.addingProduct(w, x)
        default: a3 = a3.addingProduct(w, x)
        }
    }

    @inline(__always) func get(_ i: Int) -> SIMD16<Float> {
        switch i {
        case 0: return a0
        case 1: return a1
        case 2: return a2
        default: return a3
        }
    }
}

/// Pairwise (tree) sum of the lanes: four dependent adds instead of fifteen.
@inline(__always) public func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let s8 = v.lowHalf + v.highHalf
    let s4 = s8.lowHalf + s8.highHalf
    let s2 = s4.lowHalf + s4.highHalf
    return s2[0] + s2[1]
}

@inline(__always) func loadFloats(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}
