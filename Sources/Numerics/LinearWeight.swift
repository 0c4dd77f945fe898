// LinearWeight: a weight matrix W[out × in] kept in its stored quantisation (and in fp32 once training asks
// for it), and y = x·Wᵀ through the quantised kernel when the type has one (any batch size), sgemm on fp32
// otherwise.

import Synchronization

/// A linear layer's weight. `packed` is the stored quantisation in decode layout (nil for F32/F16/BF16);
/// `dense` is the same matrix dequantised to fp32, used by training and by inference for unpacked types.
/// For packed types the fp32 copy is made on first use of `dense` (inference never needs it, so a server
/// that has not trained yet holds only the quantised weights).
public struct LinearWeight: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    public let type: QuantType
    public let packed: PackedMatrix?
    private let fp32: DenseCopy

    /// Builds a weight from stored bytes: repacks them for the quantised kernel when the type has one, else
    /// dequantises the fp32 copy now (on the pool).
    public init(rows: Int, cols: Int, type: QuantType, bytes: UnsafeRawPointer, pool: ComputePool?) {
        self.rows = rows; self.cols = cols; self.type = type
        let packed = PackedMatrix(type: type, rows: rows, cols: cols, bytes: bytes)
        self.packed = packed
        if let packed {
            fp32 = DenseCopy(count: rows * cols) { packed.dequantize(rows: 0..<rows, into: $0) }
        } else {
            let buffer = FloatBuffer(count: rows * cols)
            let rowBytes = type.byteCount(values: cols)!
            let fill = { (r: Range<Int>) in
                for i in r { dequantize(type, from: bytes + i * rowBytes, count: cols, into: buffer.pointer + i * cols) }
            }
            if let pool { pool.parallelRanges(rows, fill) } else { fill(0..<rows) }
            fp32 = DenseCopy(buffer)
        }
    }

    /// The fp32 matrix, row-major (made on first use for packed types).
    public var dense: UnsafeMutablePointer<Float> { fp32.pointer }

    /// Writes row `r` in fp32 to `out` (without making the fp32 copy of a packed matrix).
    public func copyRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        if let packed { packed.dequantize(rows: r..<(r + 1), into: out) } else { out.update(from: dense + r * cols, count: cols) }
    }

    /// True when `apply` runs the quantised kernel (it reads a quarter of the bytes of the fp32 copy, and
    /// OpenBLAS would re-pack the whole weight on every call).
    public var usesQuantizedKernel: Bool { packed != nil }

    /// Pool tasks per thread for the quantised kernel on `m` vectors. One or two vectors (decode of one
    /// sequence, or of one request's pair) get one contiguous share per thread (fewer claims of the pool's
    /// ticket, fewer prefetch ramp-ups); larger batches get four, for balance.
    static func piecesPerThread(vectors m: Int) -> Int { m <= 2 ? 1 : 4 }

    /// y[m × rows] = x[m × cols] · Wᵀ (y overwritten), rows of x and y contiguous with strides `cols`, `rows`.
    public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, m: Int, pool: ComputePool?) {
        if let packed {
            let run = { (r: Range<Int>) in packed.matVec(rows: r, x: x, xStride: self.cols, vectors: m, y: y, yStride: self.rows) }
            if let pool {
                pool.parallelRanges(rows, align: 4, piecesPerThread: LinearWeight.piecesPerThread(vectors: m), run)
            } else {
                run(0..<rows)
            }
        } else {
            BLAS.gemm(.none, .transposed, m: m, n: rows, k: cols, a: x, lda: cols, b: dense, ldb: cols,
                      c: y, ldc: rows, pool: pool)
        }
    }
}

/// The fp32 copy of a weight, filled once by `make` on first use (thread-safe).
private final class DenseCopy: @unchecked Sendable {
    private let buffer: Mutex<FloatBuffer?>
    private let count: Int
    private let make: (@Sendable (UnsafeMutablePointer<Float>) -> Void)?

    init(count: Int, make: @escaping @Sendable (UnsafeMutablePointer<Float>) -> Void) {
        self.count = count
        self.make = make
        buffer = Mutex(nil)
    }

    init(_ ready: FloatBuffer) {
        count = ready.count
        make = nil
        buffer = Mutex(ready)
    }

    var pointer: UnsafeMutablePointer<Float> {
        buffer.withLock { b in
            if let b { return b.pointer }
            let made = FloatBuffer(count: count)
            make!(made.pointer)
            b = made
            return made.pointer
        }
    }
}
