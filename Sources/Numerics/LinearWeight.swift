// LinearWeight: a weight matrix W[out × in] kept in its stored quantisation and as fp32, and y = x·Wᵀ
// through the quantised kernel when the type has one (any batch size), sgemm on fp32 otherwise.

/// A linear layer's weight. `packed` is the stored quantisation in decode layout (nil for F32/F16/BF16);
/// `dense` is the same matrix dequantised to fp32, used by training (and by inference for unpacked types).
public struct LinearWeight: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let type: QuantType
    public let packed: PackedMatrix?
    public let dense: UnsafeMutablePointer<Float>
    /// Keeps the memory behind `dense` alive.
    let owners: [AnyObject]

    /// Builds a weight from stored bytes: repacks them for decode and dequantises an fp32 copy on the pool.
    public init(rows: Int, cols: Int, type: QuantType, bytes: UnsafeRawPointer, pool: ComputePool?) {
        let buffer = FloatBuffer(count: rows * cols)
        let rowBytes = type.byteCount(values: cols)!
        let fill = { (r: Range<Int>) in
            for i in r { dequantize(type, from: bytes + i * rowBytes, count: cols, into: buffer.pointer + i * cols) }
        }
        if let pool { pool.parallelRanges(rows, fill) } else { fill(0..<rows) }
        self.rows = rows; self.cols = cols; self.type = type
        packed = PackedMatrix(type: type, rows: rows, cols: cols, bytes: bytes)
        dense = buffer.pointer
        owners = [buffer]
    }

    /// True when `apply` runs the quantised kernel. It beats sgemm on the fp32 copy at every batch size
    /// measured (1 to 512 rows; docs/benchmarks.md): it reads a quarter of the bytes and OpenBLAS re-packs
    /// the whole weight on every call.
    public var usesQuantizedKernel: Bool { packed != nil }

    /// y[m × rows] = x[m × cols] · Wᵀ (y overwritten), rows of x and y contiguous with strides `cols`, `rows`.
    public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, m: Int, pool: ComputePool?) {
        if let packed {
            let run = { (r: Range<Int>) in packed.matVec(rows: r, x: x, xStride: self.cols, vectors: m, y: y, yStride: self.rows) }
            // One vector (decode of one sequence): one contiguous range per thread. Four per thread made it 15 %
            // slower (docs/benchmarks.md): more task claims bouncing between the cores, more prefetch ramp-ups.
            let perThread = m == 1 ? 1 : 4
            if let pool { pool.parallelRanges(rows, align: 4, piecesPerThread: perThread, run) } else { run(0..<rows) }
        } else {
            BLAS.gemm(.none, .transposed, m: m, n: rows, k: cols, a: x, lda: cols, b: dense, ldb: cols,
                      c: y, ldc: rows, pool: pool)
        }
    }
}
