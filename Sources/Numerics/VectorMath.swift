// VectorMath: exp, SiLU, softmax and log-sum-exp over 16 lanes at a time (libm's scalar expf is far too
// slow for attention and 49,152-entry vocabularies). Relative error of exp ≲ 2 ulp over its range.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// MARK: - exp

/// e^x lane-wise, Cephes-style: x = n·ln2 + r with |r| ≤ ln2/2 (ln2 split in two for exactness), a
/// degree-6 polynomial for e^r, times 2^n built in the exponent bits. Exactly 0 below −87.33654 (where
/// e^x leaves the normal range) and +∞ above 88.72283, as expf. Inputs must not be NaN. Clamping uses
/// `replacing(with:where:)`: the generic `clamped`/`pointwiseMin` run lane by lane.
@inline(__always) public func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
    let underflow = x .< -87.33654
    let overflow = x .> 88.72283
    let clamped = x.replacing(with: -87.33654, where: underflow).replacing(with: 88, where: overflow)
    // Round x/ln2 to the nearest integer with the 1.5·2^23 trick; the low mantissa bits then hold n.
    let shifted = clamped * 1.442695041 + 12_582_912
    let n = shifted - 12_582_912
    var r = clamped.addingProduct(n, SIMD16(repeating: -0.693359375))
    r = r.addingProduct(n, SIMD16(repeating: 2.12194440e-4))
    var p = SIMD16<Float>(repeating: 1.9875691500e-4)
    p = p * r + 1.3981999507e-3
    p = p * r + 8.3334519073e-3
    p = p * r + 4.1665795894e-2
    p = p * r + 1.6666665459e-1
    p = p * r + 5.0000001201e-1
    let er = (p * r * r + r) + 1
    // n = 128 (x just below the overflow bound) does not fit the exponent field: use 2^127 · 2.
    let top = n .> 127
    let n127 = n.replacing(with: 127, where: top) + 12_582_912
    let exponentBits = (unsafeBitCast(n127, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    let scaled = er * unsafeBitCast(exponentBits, to: SIMD16<Float>.self) * SIMD16<Float>(repeating: 1).replacing(with: 2, where: top)
    return scaled
        .replacing(with: 0, where: underflow).replacing(with: .infinity, where: overflow)
}

/// Scalar e^x through the vector path (same rounding as the vector kernels).
@inline(__always) public func expScalar(_ x: Float) -> Float { exp(SIMD16<Float>(repeating: x))[0] }

// MARK: - Buffers

/// Sum of `count` floats (16-lane accumulation).
public func sum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= count { acc += loadFloats(x + i); i += 16 }
    var s = horizontalSum(acc)
    while i < count { s += x[i]; i += 1 }
    return s
}

/// Largest of `count` floats.
public func maximum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var m = SIMD16<Float>(repeating: -.infinity)
    var i = 0
    while i + 16 <= count {
        let v = loadFloats(x + i)
        m = m.replacing(with: v, where: v .> m)
        i += 16
    }
    var s = m.max()
    while i < count { s = Swift.max(s, x[i]); i += 1 }
    return s
}

/// log Σ exp(x), max-subtracted.
public func logSumExp(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    let mx = maximum(x, count)
    if mx == -.infinity { return -.infinity }
    var acc = SIMD16<Float>()
    var i = 0
    let m16 = SIMD16<Float>(repeating: mx)
    while i + 16 <= count { acc += exp(loadFloats(x + i) - m16); i += 16 }
    var s = horizontalSum(acc)
    while i < count { s += expScalar(x[i] - mx); i += 1 }
    return mx + logf(s)
}

/// In place: x ← softmax(x) over `count` entries; returns log Σ exp(x) of the entries it replaced.
@discardableResult public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ count: Int) -> Float {
    let mx = maximum(x, count)
    let m16 = SIMD16<Float>(repeating: mx)
    var acc = SIMD16<Float>()
    var i = 0
    while i + 16 <= count {
        let e = exp(loadFloats(x + i) - m16)
        storeFloats(e, x + i)
        acc += e
        i += 16
    }
    var s = horizontalSum(acc)
    while i < count { x[i] = expScalar(x[i] - mx); s += x[i]; i += 1 }
    let inv = 1 / s
    scale(x, count, by: inv)
    return mx + logf(s)
}

/// In place: x ← exp(x − shift).
public func expInPlace(_ x: UnsafeMutablePointer<Float>, _ count: Int, subtracting shift: Float) {
    let s16 = SIMD16<Float>(repeating: shift)
    var i = 0
    while i + 16 <= count { storeFloats(exp(loadFloats(x + i) - s16), x + i); i += 16 }
    while i < count { x[i] = expScalar(x[i] - shift); i += 1 }
}

/// In place: x ← x · s.
public func scale(_ x: UnsafeMutablePointer<Float>, _ count: Int, by s: Float) {
    var i = 0
    while i + 16 <= count { storeFloats(loadFloats(x + i) * s, x + i); i += 16 }
    while i < count { x[i] *= s; i += 1 }
}

/// y ← y + x.
public func add(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + 16 <= count { storeFloats(loadFloats(y + i) + loadFloats(x + i), y + i); i += 16 }
    while i < count { y[i] += x[i]; i += 1 }
}

/// y ← y + a · x.
public func add(_ x: UnsafePointer<Float>, scaledBy a: Float, into y: UnsafeMutablePointer<Float>, _ count: Int) {
    var i = 0
    while i + 16 <= count { storeFloats(loadFloats(y + i).addingProduct(loadFloats(x + i), a), y + i); i += 16 }
    while i < count { y[i] += a * x[i]; i += 1 }
}

/// Dot product of two float arrays.
@inline(__always) public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var i = 0
    while i + 32 <= count {
        acc0 = acc0.addingProduct(loadFloats(a + i), loadFloats(b + i))
        acc1 = acc1.addingProduct(loadFloats(a + i + 16), loadFloats(b + i + 16))
        i += 32
    }
    if i + 16 <= count { acc0 = acc0.addingProduct(loadFloats(a + i), loadFloats(b + i)); i += 16 }
    var s = horizontalSum(acc0 + acc1)
    while i < count { s += a[i] * b[i]; i += 1 }
    return s
}

@inline(__always) func storeFloats(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

@inline(__always) func loadFloats(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

/// Pairwise (tree) sum of the lanes: four dependent adds instead of fifteen.
@inline(__always) public func horizontalSum(_ v: SIMD16<Float>) -> Float {
    let s8 = v.lowHalf + v.highHalf
    let s4 = s8.lowHalf + s8.highHalf
    let s2 = s4.lowHalf + s4.highHalf
    return s2[0] + s2[1]
}
