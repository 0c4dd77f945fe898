// BackwardTests: every backward kernel against central finite differences of its forward, on the scalar
// loss L = Σ r ⊙ y for a random r (so dL/dy = r).

import XCTest
import ProximaNumerics

final class BackwardTests: XCTestCase {
    /// Compares an analytic gradient with (L(x + h) − L(x − h)) / 2h at every coordinate.
    private func checkGradient(_ x: [Float], analytic: [Float], h: Float = 1e-2, tolerance: Float = 2e-3,
                               _ loss: ([Float]) -> Float, file: StaticString = #filePath, line: UInt = #line) {
        var worst: Float = 0
        let scale = max(analytic.map(abs).max() ?? 1, 1e-3)
        for i in x.indices {
            var plus = x, minus = x
            plus[i] += h; minus[i] -= h
            let numeric = (loss(plus) - loss(minus)) / (2 * h)
            worst = max(worst, abs(numeric - analytic[i]) / scale)
        }
        XCTAssertLessThan(worst, tolerance, "largest gradient error relative to the largest gradient", file: file, line: line)
    }

    private func weighted(_ y: [Float], _ r: [Float]) -> Float { zip(y, r).reduce(0) { $0 + $1.0 * $1.1 } }

    func testRMSNormBackward() {
        var rng = TestRNG(21)
        let rows = 3, dim = 24
        let x = rng.floats(rows * dim, -2, 2), w = rng.floats(dim), r = rng.floats(rows * dim)
        func forward(_ x: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: rows * dim)
            rmsNormForward(out: &y, rstd: nil, x: x, weight: w, rows: rows, dim: dim, eps: 1e-5)
            return y
        }
        var rstd = [Float](repeating: 0, count: rows), y = [Float](repeating: 0, count: rows * dim)
        rmsNormForward(out: &y, rstd: &rstd, x: x, weight: w, rows: rows, dim: dim, eps: 1e-5)
        var dx = [Float](repeating: 0, count: rows * dim)
        rmsNormBackward(dx: &dx, dy: r, x: x, weight: w, rstd: rstd, rows: rows, dim: dim)
        checkGradient(x, analytic: dx) { self.weighted(forward($0), r) }
    }

    func testRoPEBackward() {
        var rng = TestRNG(22)
        let rows = 3, heads = 2, d = 8
        let x = rng.floats(rows * heads * d), r = rng.floats(rows * heads * d)
        var table = [Float](repeating: 0, count: rows * d)
        ropeTable(positions: [0, 5, 123], headDim: d, base: 10_000, into: &table)
        func forward(_ x: [Float]) -> [Float] {
            var y = x
            ropeForward(&y, rows: rows, stride: heads * d, heads: heads, headDim: d, table: table)
            return y
        }
        var dx = r
        ropeBackward(&dx, rows: rows, stride: heads * d, heads: heads, headDim: d, table: table)
        checkGradient(x, analytic: dx) { self.weighted(forward($0), r) }
    }

    func testSwiGLUBackward() {
        var rng = TestRNG(23)
        let n = 40
        let g = rng.floats(n, -6, 6), u = rng.floats(n), r = rng.floats(n)
        var dg = [Float](repeating: 0, count: n), du = [Float](repeating: 0, count: n)
        swigluBackward(dgate: &dg, dup: &du, dout: r, gate: g, up: u, count: n)
        func forward(_ g: [Float], _ u: [Float]) -> [Float] {
            var y = [Float](repeating: 0, count: n)
            swigluForward(out: &y, gate: g, up: u, count: n)
            return y
        }
        checkGradient(g, analytic: dg) { self.weighted(forward($0, u), r) }
        checkGradient(u, analytic: du) { self.weighted(forward(g, $0), r) }
    }

    /// Two pairs: a prompt with two branches each (the training layout), grouped-query heads.
    func testTreeAttentionBackward() {
        var rng = TestRNG(24)
        let shape = TreeAttentionShape(heads: 4, kvHeads: 2, headDim: 8)
        // pair 0: prompt rows 0..<3, branches 3..<5 and 5..<9; pair 1: prompt 9..<11, branches 11..<12, 12..<14
        let groups: [[AttentionBlock]] = [
            [AttentionBlock(rows: 0..<3, prefix: nil), AttentionBlock(rows: 3..<5, prefix: 0..<3), AttentionBlock(rows: 5..<9, prefix: 0..<3)],
            [AttentionBlock(rows: 9..<11, prefix: nil), AttentionBlock(rows: 11..<12, prefix: 9..<11), AttentionBlock(rows: 12..<14, prefix: 9..<11)],
        ]
        let n = 14
        let q = rng.floats(n * 32, -1.5, 1.5), k = rng.floats(n * 16, -1.5, 1.5), v = rng.floats(n * 16), r = rng.floats(n * 32)
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        func forward(_ q: [Float], _ k: [Float], _ v: [Float]) -> ([Float], [Float]) {
            var out = [Float](repeating: 0, count: n * 32), lse = [Float](repeating: 0, count: 4 * n)
            treeAttentionForward(out: &out, lse: &lse, q: q, k: k, v: v, rowCount: n, groups: groups, shape: shape, pool: pool)
            return (out, lse)
        }
        let (out, lse) = forward(q, k, v)
        var dq = [Float](repeating: 0, count: n * 32), dk = [Float](repeating: 0, count: n * 16), dv = [Float](repeating: 0, count: n * 16)
        treeAttentionBackward(dq: &dq, dk: &dk, dv: &dv, dout: r, out: out, lse: lse, q: q, k: k, v: v, rowCount: n,
                              groups: groups, shape: shape, pool: pool)
        checkGradient(q, analytic: dq) { self.weighted(forward($0, k, v).0, r) }
        checkGradient(k, analytic: dk) { self.weighted(forward(q, $0, v).0, r) }
        checkGradient(v, analytic: dv) { self.weighted(forward(q, k, $0).0, r) }
    }

    /// The tree forward equals plain causal attention over prompt + branch.
    func testTreeAttentionEqualsCausalAttentionPerBranch() {
        var rng = TestRNG(25)
        let shape = TreeAttentionShape(heads: 2, kvHeads: 1, headDim: 16)
        let n = 9
        let q = rng.floats(n * 32), k = rng.floats(n * 16), v = rng.floats(n * 16)
        var out = [Float](repeating: 0, count: n * 32), lse = [Float](repeating: 0, count: 2 * n)
        let blocks = [AttentionBlock(rows: 0..<4, prefix: nil), AttentionBlock(rows: 4..<6, prefix: 0..<4), AttentionBlock(rows: 6..<9, prefix: 0..<4)]
        treeAttentionForward(out: &out, lse: &lse, q: q, k: k, v: v, rowCount: n, groups: [blocks], shape: shape, pool: nil)
        // The second branch as one causal sequence: rows 0..<4 then 6..<9.
        let order = [0, 1, 2, 3, 6, 7, 8]
        let qs = order.flatMap { Array(q[($0 * 32)..<($0 * 32 + 32)]) }
        let ks = order.flatMap { Array(k[($0 * 16)..<($0 * 16 + 16)]) }, vs = order.flatMap { Array(v[($0 * 16)..<($0 * 16 + 16)]) }
        var expected = [Float](repeating: 0, count: order.count * 32)
        ks.withUnsafeBufferPointer { kp in
            vs.withUnsafeBufferPointer { vp in
                let seg = AttentionSegment(firstRow: 0, rowCount: order.count, firstPosition: 0, keys: kp.baseAddress!, values: vp.baseAddress!, kvStride: 16)
                attentionForward(out: &expected, q: qs, stride: 32, segments: [seg], heads: 2, kvHeads: 1, headDim: 16, pool: nil)
            }
        }
        for (i, row) in order.enumerated() {
            for j in 0..<32 { XCTAssertEqual(out[row * 32 + j], expected[i * 32 + j], accuracy: 1e-5) }
        }
    }
}
