// Reference: naive double-precision versions of the kernels, and helpers to make test data.
// Every kernel in Numerics is checked against one of these.

import Foundation
import ProximaNumerics

/// A small deterministic generator for test data (SplitMix64).
struct TestRNG {
    private var source: SplitMix64
    init(_ seed: UInt64) { source = SplitMix64(seed: seed) }
    mutating func next() -> UInt64 { source.next() }
    mutating func float(_ lo: Float = -1, _ hi: Float = 1) -> Float {
        lo + (hi - lo) * Float(next() >> 40) / Float(1 << 24)
    }
    mutating func floats(_ n: Int, _ lo: Float = -1, _ hi: Float = 1) -> [Float] { (0..<n).map { _ in float(lo, hi) } }
    mutating func byte() -> UInt8 { UInt8(truncatingIfNeeded: next()) }
}

/// Random blocks of `type` for `count` values, with sane f16 scales.
func randomBlocks(_ type: QuantType, count: Int, rng: inout TestRNG) -> [UInt8] {
    var bytes = (0..<type.byteCount(values: count)!).map { _ in rng.byte() }
    func putF16(_ v: Float, _ at: Int) {
        let bits = Float16(v).bitPattern
        bytes[at] = UInt8(bits & 0xFF); bytes[at + 1] = UInt8(bits >> 8)
    }
    switch type {
    case .q4_0, .q8_0:
        for b in 0..<(count / 32) { putF16(rng.float(0.001, 0.05), b * type.blockBytes) }
    case .q4_1:
        for b in 0..<(count / 32) { putF16(rng.float(0.001, 0.05), b * 20); putF16(rng.float(-0.4, 0.0), b * 20 + 2) }
    case .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K:
        // The f16 factors (d, and dmin or m where the type has one) at their offsets; every other byte random.
        for b in 0..<(count / type.blockSize) {
            for o in type.f16FactorOffsets { putF16(rng.float(0.001, 0.05), b * type.blockBytes + o) }
        }
    case .q8_K:
        for b in 0..<(count / 256) {
            let d = rng.float(0.001, 0.05).bitPattern
            for k in 0..<4 { bytes[b * 292 + k] = UInt8((d >> UInt32(8 * k)) & 0xFF) }
        }
    case .f16:
        for i in 0..<count { putF16(rng.float(), 2 * i) }
    case .bf16:
        for i in 0..<count {
            let bits = rng.float().bitPattern >> 16
            bytes[2 * i] = UInt8(bits & 0xFF); bytes[2 * i + 1] = UInt8(bits >> 8)
        }
    case .f32:
        bytes = rng.floats(count).withUnsafeBytes { Array($0) }
    }
    return bytes
}

func dequantized(_ type: QuantType, _ bytes: [UInt8], count: Int) -> [Float] {
    var out = [Float](repeating: 0, count: count)
    bytes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { dequantize(type, from: src.baseAddress!, count: count, into: $0.baseAddress!) } }
    return out
}

/// y[i, j] = Σ_k a[i, k] · b[j, k] in Double.
func naiveMatMulNT(_ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> [Double] {
    var y = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { var s = 0.0; for t in 0..<k { s += Double(a[i * k + t]) * Double(b[j * k + t]) }; y[i * n + j] = s } }
    return y
}

/// |y − reference| relative to Σ_k |a[i,k]·b[j,k]| (the scale of fp32 rounding in a dot product), worst case.
func maxDotError(_ y: [Float], _ a: [Float], _ b: [Float], m: Int, n: Int, k: Int) -> Double {
    let exact = naiveMatMulNT(a, b, m: m, n: n, k: k)
    var worst = 0.0
    for i in 0..<m {
        for j in 0..<n {
            var scale = 0.0
            for t in 0..<k { scale += abs(Double(a[i * k + t]) * Double(b[j * k + t])) }
            worst = max(worst, abs(Double(y[i * n + j]) - exact[i * n + j]) / max(scale, 1e-30))
        }
    }
    return worst
}

/// Largest |a − b| / (1 + |b|).
func maxRelativeError(_ a: [Float], _ b: [Double]) -> Double {
    zip(a, b).map { abs(Double($0) - $1) / (1 + abs($1)) }.max() ?? 0
}
