// LinearWeight: a weight matrix W[out × in] kept in its stored quantisation and as fp32, and y = x·Wᵀ
// choosing the kernel by batch size: the quantised matvec for a few rows, sgemm on fp32 for many.

/// A linear layer's weight. `packed` is the stored quantisation in decode layout (nil for F32/F16/BF16);
/// `dense` is the same matrix dequantised to fp32, used by sgemm and by training.
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

    /// Rows of a batch up to which the quantised kernel beats sgemm on fp32 weights.
    public static let quantizedBatchLimit = 48

    /// True when `m` rows go through the quantised kernel.
    public func usesQuantizedKernel(rows m: Int) -> Bool {
        m <= LinearWeight.quantizedBatchLimit && packed != nil
    }

    /// y[m × rows] = x[m × cols] · Wᵀ (y overwritten), rows of x and y contiguous with strides `cols`, `rows`.
    public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, m: Int, pool: ComputePool?) {
        if let packed, usesQuantizedKernel(rows: m) {
            let run = { (r: Range<Int>) in packed.matVec(rows: r, x: x, xStride: self.cols, vectors: m, y: y, yStride: self.rows) }
            if let pool { pool.parallelRanges(rows, align: 4, run) } else { run(0..<rows) }
        } else {
            BLAS.gemm(.none, .transposed, m: m, n: rows, k: cols, a: x, lda: cols, b: dense, ldb: cols,
                      c: y, ldc: rows, pool: pool)
        }
    }
}
