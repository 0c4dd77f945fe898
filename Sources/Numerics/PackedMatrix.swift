// PackedMatrix: a Q4_0/Q4_1/Q8_0 matrix repacked for the quantised kernel (CKernels): rows in groups of four,
// interleaved block by block, with the fp32 scales d and offsets m in a second array in the same order, so
// that one pass over a group reads two sequential streams. The values are unchanged (Q4_0's offset m = −8·d
// and f16 scales are exact in fp32).
import CKernels

/// A 4- or 8-bit block-quantised matrix in decode layout: value = d·q + m per 32-value block.
public final class PackedMatrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    private let quants: UnsafeMutableRawPointer
    private let scales: UnsafeMutablePointer<Float>
    /// The kernels' view of `quants` and `scales`.
    private let layout: proxima_packed_matrix

    /// Repacks `rows × cols` values stored as `type` (Q4_0, Q4_1 or Q8_0); nil for other types.
    public init?(type: QuantType, rows: Int, cols: Int, bytes: UnsafeRawPointer) {
        guard cols % 32 == 0, [.q4_0, .q4_1, .q8_0].contains(type) else { return nil }
        let group = Int(PROXIMA_GROUP_ROWS)
        let nibbles = type != .q8_0
        let blocks = cols / 32
        let quantBytes = nibbles ? 16 : 32
        let scaleCount = nibbles ? 2 * group : group            // per block of a group
        let groups = (rows + group - 1) / group
        self.rows = rows
        self.cols = cols
        // Rows past `rows` (padding to a whole group) stay zero.
        quants = UnsafeMutableRawPointer.allocate(byteCount: groups * group * blocks * quantBytes, alignment: 64)
        quants.initializeMemory(as: UInt8.self, repeating: 0, count: groups * group * blocks * quantBytes)
        scales = UnsafeMutablePointer<Float>.allocate(capacity: groups * blocks * scaleCount)
        scales.initialize(repeating: 0, count: groups * blocks * scaleCount)
        for r in 0..<rows {
            let (g, i) = r.quotientAndRemainder(dividingBy: group)
            for b in 0..<blocks {
                let src = bytes + (r * blocks + b) * type.blockBytes
                let d = Float(Float16(bitPattern: src.loadUnaligned(as: UInt16.self)))
                let s = scales + (g * blocks + b) * scaleCount
                let dst = quants + ((g * blocks + b) * group + i) * quantBytes
                s[i] = d
                switch type {
                case .q4_1:
                    s[group + i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2, as: UInt16.self)))
                    dst.copyMemory(from: src + 4, byteCount: 16)
                case .q4_0:
                    s[group + i] = -8 * d
                    dst.copyMemory(from: src + 2, byteCount: 16)
                default:
                    dst.copyMemory(from: src + 2, byteCount: 32)
                }
            }
        }
        layout = proxima_packed_matrix(quants: UnsafePointer(quants.assumingMemoryBound(to: UInt8.self)),
                                       scales: UnsafePointer(scales), blocksPerRow: Int64(blocks), nibbles: nibbles ? 1 : 0)
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
    }

    /// Writes rows `rows` dequantised (d·q + m, exactly the stored values) to `out`, `cols` floats per row.
    public func dequantize(rows: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= self.rows)
        withUnsafePointer(to: layout) { proxima_packed_dequantize_rows($0, Int64(rows.lowerBound), Int64(rows.upperBound), out) }
    }

    /// y[v·yStride + r] = Σ_c W[r, c] · x[v·xStride + c] for r in `rows`, v in 0..<vectors (other rows untouched).
    /// `portable` forces the plain-C kernel (for tests; the default is the fastest the build targets).
    public func matVec(rows: Range<Int>, x: UnsafePointer<Float>, xStride: Int, vectors: Int,
                       y: UnsafeMutablePointer<Float>, yStride: Int, portable: Bool = false) {
        precondition(rows.lowerBound >= 0 && rows.upperBound <= self.rows && vectors >= 1)
        withUnsafePointer(to: layout) { w in
            let kernel = portable ? proxima_packed_matvec_portable : proxima_packed_matvec
            kernel(w, Int64(rows.lowerBound), Int64(rows.upperBound), x, Int64(xStride), Int64(vectors), y, Int64(yStride))
        }
    }
}
