// QuantizedMatVec: y = W·x for a few activation vectors at once, reading W in its stored quantisation.
// Each weight block is dequantised once into registers (exactly as `dequantize` defines it) and used for
// every vector; activations and accumulation stay fp32. This is the decode path: it is bound by reading W.

/// How many activation vectors one pass over the weights serves (more would spill registers).
let vectorsPerPass = 4

/// y[v·yStride + r] = Σ_c W[r, c] · x[v·xStride + c] for r in `rows`, v in 0..<vectors.
/// `w` points at row 0; each row is `cols / 32` blocks of `type` (Q4_0, Q4_1 or Q8_0).
public func quantizedMatVec(_ type: QuantType, w: UnsafeRawPointer, cols: Int, rows: Range<Int>,
                            x: UnsafePointer<Float>, xStride: Int, vectors: Int,
                            y: UnsafeMutablePointer<Float>, yStride: Int) {
    precondition(cols % 32 == 0 && vectors >= 1)
    let rowBytes = (cols / 32) * type.blockBytes
    var v0 = 0
    while v0 < vectors {
        let n = min(vectorsPerPass, vectors - v0)
        let xs = x + v0 * xStride
        let ys = y + v0 * yStride
        switch type {
        case .q4_1: quantPass(Q4_1Block.self, n, w, rowBytes, cols, rows, xs, xStride, ys, yStride)
        case .q4_0: quantPass(Q4_0Block.self, n, w, rowBytes, cols, rows, xs, xStride, ys, yStride)
        case .q8_0: quantPass(Q8_0Block.self, n, w, rowBytes, cols, rows, xs, xStride, ys, yStride)
        default: preconditionFailure("quantizedMatVec does not read \(type)")
        }
        v0 += n
    }
}

/// One pass over `rows` for `n` (1…4) vectors. Several rows are interleaved when there are few vectors,
/// so that enough independent FMA chains are in flight to hide their latency.
@inline(__always)
func quantPass<B: QuantBlock>(_ b: B.Type, _ n: Int, _ w: UnsafeRawPointer, _ rowBytes: Int, _ cols: Int,
                           _ rows: Range<Int>, _ x: UnsafePointer<Float>, _ xStride: Int,
                           _ y: UnsafeMutablePointer<Float>, _ yStride: Int) {
    let grouped: Int
    switch n {
    case 1: grouped = rows.count / 4 * 4; blockRows(Count4.self, Count1.self, b, w, rowBytes, cols, rows.lowerBound..<(rows.lowerBound + grouped), x, xStride, y, yStride)
    case 2: grouped = rows.count / 2 * 2; blockRows(Count2.self, Count2.self, b, w, rowBytes, cols, rows.lowerBound..<(rows.lowerBound + grouped), x, xStride, y, yStride)
    default: grouped = 0
    }
    let rest = (rows.lowerBound + grouped)..<rows.upperBound
    switch n {
    case 1: blockRows(Count1.self, Count1.self, b, w, rowBytes, cols, rest, x, xStride, y, yStride)
    case 2: blockRows(Count1.self, Count2.self, b, w, rowBytes, cols, rest, x, xStride, y, yStride)
    case 3: blockRows(Count1.self, Count3.self, b, w, rowBytes, cols, rest, x, xStride, y, yStride)
    default: blockRows(Count1.self, Count4.self, b, w, rowBytes, cols, rest, x, xStride, y, yStride)
    }
}

// MARK: - Compile-time counts, so each (rows, vectors) shape is its own fully unrolled specialisation

protocol StaticCount { static var value: Int { get } }
enum Count1: StaticCount { static var value: Int { 1 } }
enum Count2: StaticCount { static var value: Int { 2 } }
enum Count3: StaticCount { static var value: Int { 3 } }
enum Count4: StaticCount { static var value: Int { 4 } }

/// Eight accumulators addressed by a compile-time index (after unrolling, each is a register).
struct Accumulators {
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var a4 = SIMD16<Float>(), a5 = SIMD16<Float>(), a6 = SIMD16<Float>(), a7 = SIMD16<Float>()

    @inline(__always) mutating func add(_ i: Int, _ w: SIMD16<Float>, _ x: SIMD16<Float>) {
        switch i {
        case 0: a0 = a0.addingProduct(w, x)
        case 1: a1 = a1.addingProduct(w, x)
        case 2: a2 = a2.addingProduct(w, x)
        case 3: a3 = a3.addingProduct(w, x)
        case 4: a4 = a4.addingProduct(w, x)
        case 5: a5 = a5.addingProduct(w, x)
        case 6: a6 = a6.addingProduct(w, x)
        default: a7 = a7.addingProduct(w, x)
        }
    }

    @inline(__always) func get(_ i: Int) -> SIMD16<Float> {
        switch i {
        case 0: return a0
        case 1: return a1
        case 2: return a2
        case 3: return a3
        case 4: return a4
        case 5: return a5
        case 6: return a6
        default: return a7
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

/// R rows × V vectors at a time; the low and high halves of a block feed separate accumulators.
@inline(never)
func blockRows<R: StaticCount, V: StaticCount, B: QuantBlock>(
    _: R.Type, _: V.Type, _: B.Type, _ w: UnsafeRawPointer, _ rowBytes: Int, _ cols: Int, _ rows: Range<Int>,
    _ x: UnsafePointer<Float>, _ xStride: Int, _ y: UnsafeMutablePointer<Float>, _ yStride: Int
) {
    let blocks = cols / 32
    var r = rows.lowerBound
    while r < rows.upperBound {
        let row = w + r * rowBytes
        var acc = Accumulators()
        for b in 0..<blocks {
            for rr in 0..<R.value {
                let (lo, hi) = B.values(row + rr * rowBytes + b * B.bytes)
                for v in 0..<V.value {
                    let xv = x + v * xStride + b * 32
                    acc.add((rr * V.value + v) * 2, lo, loadFloats(xv))
                    acc.add((rr * V.value + v) * 2 + 1, hi, loadFloats(xv + 16))
                }
            }
        }
        for rr in 0..<R.value {
            for v in 0..<V.value {
                let i = (rr * V.value + v) * 2
                y[v * yStride + r + rr] = horizontalSum(acc.get(i) + acc.get(i + 1))
            }
        }
        r += R.value
    }
}

// MARK: - Block layouts

/// A 32-value block layout and its exact dequantisation into two halves of 16 values.
protocol QuantBlock {
    static var bytes: Int { get }
    static func values(_ block: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>)
}

/// Q4_0: f16 d, 16 bytes of nibbles (low nibbles are values 0…15, high 16…31); x = d·(q − 8).
enum Q4_0Block: QuantBlock {
    static var bytes: Int { 18 }
    @inline(__always) static func values(_ block: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        let d = SIMD16<Float>(repeating: loadF16(block, 0))
        let q = block.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
        let eight = SIMD16<Float>(repeating: 8)
        return ((widenUnsigned(q & 0x0F) - eight) * d, (widenUnsigned(q &>> 4) - eight) * d)
    }
}

/// Q4_1: f16 d, f16 m, 16 bytes of nibbles as Q4_0; x = d·q + m.
enum Q4_1Block: QuantBlock {
    static var bytes: Int { 20 }
    @inline(__always) static func values(_ block: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        let d = SIMD16<Float>(repeating: loadF16(block, 0))
        let m = SIMD16<Float>(repeating: loadF16(block, 2))
        let q = block.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
        return (m.addingProduct(widenUnsigned(q & 0x0F), d), m.addingProduct(widenUnsigned(q &>> 4), d))
    }
}

/// Q8_0: f16 d, 32 signed bytes; x = d·q.
enum Q8_0Block: QuantBlock {
    static var bytes: Int { 34 }
    @inline(__always) static func values(_ block: UnsafeRawPointer) -> (SIMD16<Float>, SIMD16<Float>) {
        let d = SIMD16<Float>(repeating: loadF16(block, 0))
        return (widenSigned(block.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)) * d,
                widenSigned(block.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)) * d)
    }
}
