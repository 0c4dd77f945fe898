// KernelTests: vector exp, softmax, log-sum-exp, RMSNorm, RoPE, SwiGLU and attention (both paths, GQA,
// causal) against naive Double implementations; the compute pool's coverage of every index.

import Foundation
import XCTest
import ProximaNumerics

final class KernelTests: XCTestCase {
    func testVectorExpIsAccurateAcrossItsRange() {
        var worst = 0.0
        var x: Float = -87
        while x < 88.5 {
            let got = Double(expScalar(x)), want = Foundation.exp(Double(x))
            worst = max(worst, abs(got - want) / want)
            x += 0.01337
        }
        XCTAssertLessThan(worst, 3e-7)
        XCTAssertEqual(expScalar(-200), 0)
        XCTAssertEqual(expScalar(-.infinity), 0)
        XCTAssertEqual(expScalar(200), .infinity)
        XCTAssertEqual(expScalar(0), 1)
    }

    func testSoftmaxAndLogSumExp() {
        var rng = TestRNG(1)
        for n in [1, 15, 16, 17, 100, 49152] {
            var x = rng.floats(n, -30, 30)
            let lse = x.withUnsafeBufferPointer { logSumExp($0.baseAddress!, n) }
            let mx = Double(x.max()!)
            let want = mx + Foundation.log(x.reduce(0.0) { $0 + Foundation.exp(Double($1) - mx) })
            XCTAssertEqual(Double(lse), want, accuracy: 1e-4 * max(1, abs(want)), "n=\(n)")
            let probs = x.map { Foundation.exp(Double($0) - want) }
            x.withUnsafeMutableBufferPointer { softmaxInPlace($0.baseAddress!, n) }
            XCTAssertLessThan(maxRelativeError(x, probs), 1e-6, "n=\(n)")
        }
    }

    func testRMSNorm() {
        var rng = TestRNG(2)
        let rows = 3, dim = 40
        let x = rng.floats(rows * dim, -3, 3), w = rng.floats(dim)
        var out = [Float](repeating: 0, count: rows * dim), rstd = [Float](repeating: 0, count: rows)
        rmsNormForward(out: &out, rstd: &rstd, x: x, weight: w, rows: rows, dim: dim, eps: 1e-5)
        var expected = [Double]()
        for r in 0..<rows {
            let ms = (0..<dim).map { Double(x[r * dim + $0]) * Double(x[r * dim + $0]) }.reduce(0, +) / Double(dim)
            let s = 1 / (ms + 1e-5).squareRoot()
            XCTAssertEqual(Double(rstd[r]), s, accuracy: 1e-6 * s)
            expected += (0..<dim).map { Double(x[r * dim + $0]) * s * Double(w[$0]) }
        }
        XCTAssertLessThan(maxRelativeError(out, expected), 1e-6)
    }

    func testRoPERotatesConsecutivePairs() {
        var rng = TestRNG(3)
        let heads = 3, headDim = 8, positions = [0, 1, 7, 1000]
        var x = rng.floats(positions.count * heads * headDim)
        let original = x
        var table = [Float](repeating: 0, count: positions.count * headDim)
        ropeTable(positions: positions, headDim: headDim, base: 10_000, into: &table)
        ropeForward(&x, rows: positions.count, stride: heads * headDim, heads: heads, headDim: headDim, table: table)
        var expected = [Double]()
        for (r, p) in positions.enumerated() {
            for h in 0..<heads {
                for i in 0..<(headDim / 2) {
                    let theta = Double(p) * Foundation.pow(10_000.0, -2.0 * Double(i) / Double(headDim))
                    let a = Double(original[(r * heads + h) * headDim + 2 * i]), b = Double(original[(r * heads + h) * headDim + 2 * i + 1])
                    expected += [a * Foundation.cos(theta) - b * Foundation.sin(theta), a * Foundation.sin(theta) + b * Foundation.cos(theta)]
                }
            }
        }
        XCTAssertLessThan(maxRelativeError(x, expected), 2e-5)   // fp32 angles at position 1000
    }

    func testSwiGLU() {
        var rng = TestRNG(4)
        let n = 37
        let g = rng.floats(n, -10, 10), u = rng.floats(n)
        var out = [Float](repeating: 0, count: n)
        swigluForward(out: &out, gate: g, up: u, count: n)
        let expected = (0..<n).map { Double(g[$0]) / (1 + Foundation.exp(-Double(g[$0]))) * Double(u[$0]) }
        XCTAssertLessThan(maxRelativeError(out, expected), 1e-6)
    }

    /// Naive causal GQA attention for one segment: row t sees keys 0...first + t.
    private func naiveAttention(q: [Float], keys: [Float], values: [Float], rows: Int, first: Int, heads: Int, kvHeads: Int, d: Int) -> [Double] {
        var out = [Double](repeating: 0, count: rows * heads * d)
        let kvDim = kvHeads * d
        for t in 0..<rows {
            for h in 0..<heads {
                let g = h / (heads / kvHeads)
                let visible = first + t + 1
                var scores = (0..<visible).map { j in
                    (0..<d).reduce(0.0) { $0 + Double(q[t * heads * d + h * d + $1]) * Double(keys[j * kvDim + g * d + $1]) } / Double(d).squareRoot()
                }
                let mx = scores.max()!
                scores = scores.map { Foundation.exp($0 - mx) }
                let z = scores.reduce(0, +)
                for j in 0..<visible {
                    for e in 0..<d { out[t * heads * d + h * d + e] += scores[j] / z * Double(values[j * kvDim + g * d + e]) }
                }
            }
        }
        return out
    }

    func testAttentionBothPathsMatchNaive() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        var rng = TestRNG(5)
        // Groups of 3 query heads per key/value head, 1, and 5 (more than the C kernel's 4 per pass); head widths
        // of the C kernel's AVX-512 path (64), its AVX2 path (multiples of 8) and its portable one (20); one row
        // with few keys (one part), with enough
        // keys to be split in two parts (merged), a few rows (a short segment), and many (sgemm per head).
        for (heads, kvHeads) in [(6, 2), (3, 3), (5, 1)] {
        for d in [16, 20, 64, 88] {
        for (rows, first) in [(1, 0), (1, 9), (1, 100), (3, 4), (12, 0), (20, 7)] {
            let total = first + rows
            let q = rng.floats(rows * heads * d, -2, 2)
            let keys = rng.floats(total * kvHeads * d, -2, 2), values = rng.floats(total * kvHeads * d)
            var out = [Float](repeating: .nan, count: rows * heads * d)
            keys.withUnsafeBufferPointer { k in
                values.withUnsafeBufferPointer { v in
                    let seg = AttentionSegment(firstRow: 0, rowCount: rows, firstPosition: first, keys: k.baseAddress!,
                                               values: v.baseAddress!, kvStride: kvHeads * d)
                    attentionForward(out: &out, q: q, stride: heads * d, segments: [seg], heads: heads, kvHeads: kvHeads, headDim: d, pool: pool)
                }
            }
            let expected = naiveAttention(q: q, keys: keys, values: values, rows: rows, first: first, heads: heads, kvHeads: kvHeads, d: d)
            XCTAssertLessThan(maxRelativeError(out, expected), 2e-6, "heads=\(heads)/\(kvHeads) d=\(d) rows=\(rows) first=\(first)")
        }
        }
        }
    }

    /// Several decoding sequences in one call (one task per sequence and key/value head, no split), each with
    /// its own keys, against the naive attention of each alone.
    func testBatchedDecodeAttentionMatchesNaive() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        var rng = TestRNG(6)
        let heads = 6, kvHeads = 2, d = 64
        let firsts = [70, 0, 33]
        let q = rng.floats(firsts.count * heads * d, -2, 2)
        let keys = firsts.map { rng.floats(($0 + 1) * kvHeads * d, -2, 2) }, values = firsts.map { rng.floats(($0 + 1) * kvHeads * d) }
        var out = [Float](repeating: .nan, count: q.count)
        let k = keys.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }, v = values.map { UnsafeMutablePointer<Float>.allocate(capacity: $0.count) }
        defer { (k + v).forEach { $0.deallocate() } }
        for i in firsts.indices { k[i].initialize(from: keys[i], count: keys[i].count); v[i].initialize(from: values[i], count: values[i].count) }
        let segments = firsts.indices.map { AttentionSegment(firstRow: $0, rowCount: 1, firstPosition: firsts[$0], keys: k[$0], values: v[$0], kvStride: kvHeads * d) }
        attentionForward(out: &out, q: q, stride: heads * d, segments: segments, heads: heads, kvHeads: kvHeads, headDim: d, pool: pool)
        for i in firsts.indices {
            let row = Array(q[(i * heads * d)..<((i + 1) * heads * d)])
            let expected = naiveAttention(q: row, keys: keys[i], values: values[i], rows: 1, first: firsts[i], heads: heads, kvHeads: kvHeads, d: d)
            XCTAssertLessThan(maxRelativeError(Array(out[(i * heads * d)..<((i + 1) * heads * d)]), expected), 2e-6, "sequence \(i)")
        }
    }

    func testComputePoolRunsEveryIndexOnce() {
        for threads in [1, 2, 4] {
            let pool = ComputePool(threads: threads)
            for count in [0, 1, 2, 3, 17, 1000] {
                for _ in 0..<50 {
                    let hits = UnsafeMutablePointer<Int>.allocate(capacity: max(count, 1))
                    hits.initialize(repeating: 0, count: max(count, 1))
                    pool.parallelFor(count) { i in hits[i] += 1 }
                    XCTAssertTrue((0..<count).allSatisfy { hits[$0] == 1 }, "threads=\(threads) count=\(count)")
                    hits.deallocate()
                }
            }
            var covered = [Int](repeating: 0, count: 103)
            covered.withUnsafeMutableBufferPointer { c in pool.parallelRanges(103, align: 4) { r in for i in r { c[i] += 1 } } }
            XCTAssertEqual(covered, [Int](repeating: 1, count: 103))
            pool.shutdown()
        }
    }
}
