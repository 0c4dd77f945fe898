// PackedMatrix: a block-quantised matrix repacked for the quantised kernel (CKernels): rows in groups of four,
// interleaved block by block, with the fp32 scales d and offsets m in a second array in the same order, so
// that one pass over a group reads two sequential streams. Q4_0, Q4_1 and Q8_0 keep their bytes (Q4_0's offset
// m = −8·d and f16 scales are exact in fp32); Q5_0 and Q6_K become signed bytes like Q8_0 (Q6_K with a scale per
// half-block), Q4_K nibbles, Q5_1 and Q5_K nibbles plus a plane of fifth bits, all with fp32 scales (PackedBlocks).
import CKernels

/// A 4-, 5-, 6- or 8-bit block-quantised matrix in decode layout: value = d·q + m per 32-value block (or half-block).
public final class PackedMatrix: @unchecked Sendable {
    public let rows: Int
    public let cols: Int
    private let quants: UnsafeMutableRawPointer
    private let scales: UnsafeMutablePointer<Float>
    /// The kernels' view of `quants` and `scales`.
    private let layout: proxima_packed_matrix

    /// Repacks `rows × cols` values stored as `type` (Q4_0, Q4_1, Q8_0, Q5_0, Q5_1, Q4_K, Q5_K or Q6_K); nil for
    /// other types or rows that are not whole blocks.
    public init?(type: QuantType, rows: Int, cols: Int, bytes: UnsafeRawPointer) {
        let format = PackedFormat(type)
        guard cols % type.blockSize == 0, format != nil || [.q4_0, .q4_1, .q8_0].contains(type) else { return nil }
        let group = Int(PROXIMA_GROUP_ROWS)
        let nibbles = format?.nibbles ?? (type != .q8_0)
        let highBits = format?.highBits ?? 0, split = format?.split ?? false
        let blocks = cols / 32
        let quantBytes = nibbles ? 16 + 4 * highBits : 32
        let scaleCount = split ? 4 * group : nibbles ? 2 * group : group     // per block of a group
        let groups = (rows + group - 1) / group
        let rowBytes = type.byteCount(values: cols)!
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
                let s = scales + (g * blocks + b) * scaleCount
                let dst = quants + ((g * blocks + b) * group + i) * quantBytes
                if let format {
                    let block = PackedFormat.block(type, row: bytes + r * rowBytes, b)
                    let out = dst.assumingMemoryBound(to: UInt8.self)
                    if !nibbles {
                        for j in 0..<32 { out[j] = UInt8(bitPattern: Int8(Int(block[j]) - format.center)) }
                        s[i] = block.dLo
                        if split { s[2 * group + i] = block.dHi }
                        continue
                    }
                    for j in 0..<16 { out[j] = (block[j] & 15) | (block[j + 16] & 15) << 4 }
                    for p in 0..<highBits {
                        var plane: UInt32 = 0
                        for j in 0..<32 { plane |= UInt32((block[j] >> UInt8(4 + p)) & 1) << UInt32(j) }
                        (dst + 16 + 4 * p).storeBytes(of: plane.littleEndian, as: UInt32.self)
                    }
                    (s[i], s[group + i]) = (block.dLo, block.mLo)
                    if split { (s[2 * group + i], s[3 * group + i]) = (block.dHi, block.mHi) }
                    continue
                }
                let src = bytes + (r * blocks + b) * type.blockBytes
                let d = Float(Float16(bitPattern: src.loadUnaligned(as: UInt16.self)))
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
                                       scales: UnsafePointer(scales), blocksPerRow: Int64(blocks), nibbles: nibbles ? 1 : 0,
                                       highBits: Int32(highBits), split: split ? 1 : 0)
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
