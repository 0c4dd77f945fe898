// LinearAndBLASTests: the pool-split sgemm in every transpose combination, and LinearWeight's two kernels
// (quantised matvec for few rows, sgemm for many) against a Double reference.

import XCTest
import ProximaNumerics

final class LinearAndBLASTests: XCTestCase {
    func testGemmAllTransposesSplitOverThePool() {
        let pool = ComputePool(threads: 3)
        defer { pool.shutdown() }
        var rng = TestRNG(11)
        for (m, n, k) in [(1, 1, 1), (5, 130, 17), (70, 9, 33), (64, 64, 64)] {
            for ta in [Transpose.none, .transposed] {
                for tb in [Transpose.none, .transposed] {
                    let a = rng.floats(m * k), b = rng.floats(k * n), c0 = rng.floats(m * n)
                    var c = c0
                    let lda = ta == .none ? k : m, ldb = tb == .none ? n : k
                    c.withUnsafeMutableBufferPointer { cp in
                        BLAS.gemm(ta, tb, m: m, n: n, k: k, alpha: 0.5, a: a, lda: lda, b: b, ldb: ldb, beta: 2,
                                  c: cp.baseAddress!, ldc: n, pool: pool)
                    }
                    var expected = [Double](repeating: 0, count: m * n)
                    for i in 0..<m {
                        for j in 0..<n {
                            var s = 0.0
                            for t in 0..<k {
                                let av = ta == .none ? a[i * k + t] : a[t * m + i]
                                let bv = tb == .none ? b[t * n + j] : b[j * k + t]
                                s += Double(av) * Double(bv)
                            }
                            expected[i * n + j] = 0.5 * s + 2 * Double(c0[i * n + j])
                        }
                    }
                    XCTAssertLessThan(maxRelativeError(c, expected), 1e-5, "m=\(m) n=\(n) k=\(k) \(ta) \(tb)")
                }
            }
        }
    }

    func testLinearWeightKernelsAgree() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        var rng = TestRNG(12)
        let rows = 40, cols = 96
        for type in [QuantType.q4_1, .q8_0, .f16, .f32] {
            let bytes = randomBlocks(type, count: rows * cols, rng: &rng)
            let weight = bytes.withUnsafeBytes { LinearWeight(rows: rows, cols: cols, type: type, bytes: $0.baseAddress!, pool: pool) }
            let w = dequantized(type, bytes, count: rows * cols)
            // The fp32 copy (made on first use for packed types) and single rows are the stored values exactly.
            var row = [Float](repeating: .nan, count: cols)
            row.withUnsafeMutableBufferPointer { weight.copyRow(3, into: $0.baseAddress!) }
            XCTAssertEqual(row, Array(w[(3 * cols)..<(4 * cols)]), "\(type) row 3")
            XCTAssertEqual(Array(UnsafeBufferPointer(start: weight.dense, count: rows * cols)), w, "\(type) fp32 copy")
            for m in [1, 2, 5, 16, 17, 37, 130] {
                let x = rng.floats(m * cols)
                var y = [Float](repeating: .nan, count: m * rows)
                y.withUnsafeMutableBufferPointer { weight.apply(x, $0.baseAddress!, m: m, pool: pool) }
                XCTAssertLessThan(maxDotError(y, x, w, m: m, n: rows, k: cols), 1e-6, "\(type), \(m) rows")
            }
        }
    }

    func testApplyAllMatchesSeparateApplications() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        var rng = TestRNG(13)
        let cols = 64
        let weights = [24, 8, 8].map { rows in
            randomBlocks(.q4_1, count: rows * cols, rng: &rng).withUnsafeBytes {
                LinearWeight(rows: rows, cols: cols, type: .q4_1, bytes: $0.baseAddress!, pool: nil)
            }
        }
        for m in [1, 3, 20] {
            let x = rng.floats(m * cols)
            let together = weights.map { FloatBuffer(count: m * $0.rows) }
            let apart = weights.map { FloatBuffer(count: m * $0.rows) }
            LinearWeight.applyAll(Array(zip(weights, together.map(\.pointer))), to: x, m: m, pool: pool)
            for (w, b) in zip(weights, apart) { w.apply(x, b.pointer, m: m, pool: nil) }
            for (a, b) in zip(together, apart) { XCTAssertEqual(a.array, b.array) }
        }
    }
}
