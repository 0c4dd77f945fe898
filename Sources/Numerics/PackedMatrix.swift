// PackedMatrix: a Q4_0/Q4_1/Q8_0 matrix repacked for decode: per row the quants of all blocks, then the
// block scales d and offsets m as f16. The values are unchanged (Q4_0's offset m = −8·d is exact in f16).

/// A 4- or 8-bit block-quantised matrix in decode layout: x = d·q + m per 32-value block.
public final class PackedMatrix: @unchecked Sendable {
    public enum Format: Sendable { case nibbles, bytes }

    public let rows: Int
    public let cols: Int
    public let format: Format
    /// Quants: 16 bytes per block (two nibbles each: low = value j, high = value j+16) or 32 signed bytes.
    let quants: UnsafeMutableRawPointer
    /// Per block (row-major): the scale d and, for nibbles, the offset m.
    let scales: UnsafeMutablePointer<Float16>
    let offsets: UnsafeMutablePointer<Float16>?

    public var blocksPerRow: Int { cols / 32 }
    var quantBytesPerBlock: Int { format == .nibbles ? 16 : 32 }

    /// Repacks `rows × cols` values stored as `type` (Q4_0, Q4_1 or Q8_0); nil for other types.
    public init?(type: QuantType, rows: Int, cols: Int, bytes: UnsafeRawPointer) {
        guard cols % 32 == 0, [.q4_0, .q4_1, .q8_0].contains(type) else { return nil }
        self.rows = rows
        self.cols = cols
        format = type == .q8_0 ? .bytes : .nibbles
        let blocks = rows * (cols / 32)
        let qb = format == .nibbles ? 16 : 32
        quants = UnsafeMutableRawPointer.allocate(byteCount: blocks * qb, alignment: 64)
        // 16 spare entries: the kernels convert scales 16 at a time.
        scales = UnsafeMutablePointer<Float16>.allocate(capacity: blocks + 16)
        scales.initialize(repeating: 0, count: blocks + 16)
        offsets = format == .nibbles ? UnsafeMutablePointer<Float16>.allocate(capacity: blocks + 16) : nil
        offsets?.initialize(repeating: 0, count: blocks + 16)
        for b in 0..<blocks {
            let src = bytes + b * type.blockBytes
            let d = Float16(bitPattern: src.loadUnaligned(as: UInt16.self))
            scales[b] = d
            switch type {
            case .q4_1:
                offsets![b] = Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2, as: UInt16.self))
                (quants + b * 16).copyMemory(from: src + 4, byteCount: 16)
            case .q4_0:
                offsets![b] = -8 * d
                (quants + b * 16).copyMemory(from: src + 2, byteCount: 16)
            default:
                (quants + b * 32).copyMemory(from: src + 2, byteCount: 32)
            }
        }
    }

    deinit {
        quants.deallocate()
        scales.deallocate()
        offsets?.deallocate()
    }

    /// Bytes this layout takes (what one pass over the matrix reads).
    public var byteCount: Int { rows * blocksPerRow * (quantBytesPerBlock + (offsets == nil ? 2 : 4)) }
}
