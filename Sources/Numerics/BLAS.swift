// BLAS: sgemm through OpenBLAS, split across the ComputePool so Proxima's threads own the cores.
// OpenBLAS itself runs single-threaded inside each pool task.

import COpenBLAS

/// Whether a matrix operand is used as stored or transposed (row-major storage throughout).
public enum Transpose: Sendable { case none, transposed }

public enum BLAS {
    /// OpenBLAS must not start its own threads: the ComputePool splits the work.
    private static let singleThreaded: Void = { openblas_set_num_threads(1) }()

    /// The kernel family OpenBLAS chose (e.g. "Haswell", "SkylakeX"), for reports.
    public static var coreName: String {
        _ = singleThreaded
        return String(cString: openblas_get_corename())
    }

    /// C[M×N] = alpha · op(A) · op(B) + beta · C, row-major; op(A) is M×K and op(B) is K×N.
    /// The work is split over the pool along M (or N when M is small).
    public static func gemm(_ transA: Transpose, _ transB: Transpose, m: Int, n: Int, k: Int,
                            alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
                            b: UnsafePointer<Float>, ldb: Int,
                            beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
                            pool: ComputePool?) {
        _ = singleThreaded
        if m == 0 || n == 0 { return }
        let ta = transA == .none ? CblasNoTrans : CblasTrans
        let tb = transB == .none ? CblasNoTrans : CblasTrans
        func run(_ m0: Int, _ m1: Int, _ n0: Int, _ n1: Int) {
            let aOff = transA == .none ? m0 * lda : m0
            let bOff = transB == .none ? n0 : n0 * ldb
            cblas_sgemm(CblasRowMajor, ta, tb, Int32(m1 - m0), Int32(n1 - n0), Int32(k), alpha,
                        a + aOff, Int32(lda), b + bOff, Int32(ldb), beta, c + m0 * ldc + n0, Int32(ldc))
        }
        guard let pool, pool.threadCount > 1, m * n * k >= 1 << 16 else { return run(0, m, 0, n) }
        // With enough rows, each thread takes a share of C's rows: it packs its own rows of op(A) and all of
        // op(B), where a split of the columns would have both pack all of op(A) (bench/blas/gemm_shapes.c
        // times both).
        let pieces = pool.threadCount
        if m >= 64 * pieces || m >= n {
            let chunk = ((m + pieces - 1) / pieces + 15) / 16 * 16
            pool.parallelFor((m + chunk - 1) / chunk) { i in run(i * chunk, min(m, (i + 1) * chunk), 0, n) }
        } else {
            let chunk = ((n + pieces - 1) / pieces + 15) / 16 * 16
            pool.parallelFor((n + chunk - 1) / chunk) { i in run(0, m, i * chunk, min(n, (i + 1) * chunk)) }
        }
    }

    /// y[rows] = alpha · M·x + beta · y for a row-major M [rows × cols] (sgemv: M read once); the rows are split
    /// over the pool when the matrix is large enough to be worth it.
    public static func gemv(rows: Int, cols: Int, alpha: Float = 1, m: UnsafePointer<Float>, x: UnsafePointer<Float>,
                            beta: Float = 0, y: UnsafeMutablePointer<Float>, pool: ComputePool?) {
        _ = singleThreaded
        if rows == 0 { return }
        func run(_ r0: Int, _ r1: Int) {
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(r1 - r0), Int32(cols), alpha, m + r0 * cols, Int32(cols),
                        x, 1, beta, y + r0, 1)
        }
        guard let pool, pool.threadCount > 1, rows * cols >= 1 << 15, rows >= 16 else { return run(0, rows) }
        let chunk = ((rows + pool.threadCount - 1) / pool.threadCount + 7) / 8 * 8
        pool.parallelFor((rows + chunk - 1) / chunk) { i in run(i * chunk, min(rows, (i + 1) * chunk)) }
    }
}
