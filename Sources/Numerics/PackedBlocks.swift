// PackedBlocks: the 32-value blocks of Q5_0, Q5_1, Q4_K, Q5_K and Q6_K rows as the packed layout holds them —
// integers q (0…63) and, per 16-value half, fp32 d and m with value = fma(d, q, m) — read from GGUF's bytes.
// Q5_0's d·(q − 16) and Q6_K's d·sc·(q − 32) are stored as signed bytes q − 16, q − 32 with scale d (d·sc), so
// they are GGUF's values bit for bit; Q5_1's and the K-quants' d·q − m may differ from the separate multiply and
// subtract in the last bit.

/// One block of 32 values: q[j] ∈ 0…63 and the scales of values 0–15 (lo) and 16–31 (hi).
struct PackedBlock {
    var q: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)   // 32 bytes of storage
    var dLo: Float = 0, mLo: Float = 0, dHi: Float = 0, mHi: Float = 0

    subscript(j: Int) -> UInt8 {
        get { withUnsafeBytes(of: q) { $0[j] } }
        set { withUnsafeMutableBytes(of: &q) { $0[j] = newValue } }
    }
}

/// How a type's blocks sit in the packed layout: nibbles with planes of high bits, or signed bytes q − center
/// (Q5_0 and Q6_K, whose values are d·(q − center): the Q8_0 layout, cheaper to widen than a fifth and sixth bit),
/// and whether each half of a block has its own scales.
struct PackedFormat {
    let nibbles: Bool
    let highBits: Int
    let split: Bool
    /// What the bytes layout subtracts from q.
    let center: Int

    init?(_ type: QuantType) {
        switch type {
        case .q5_1, .q5_K: (nibbles, highBits, split, center) = (true, 1, false, 0)
        case .q4_K: (nibbles, highBits, split, center) = (true, 0, false, 0)
        case .q5_0: (nibbles, highBits, split, center) = (false, 0, false, 16)
        case .q6_K: (nibbles, highBits, split, center) = (false, 0, true, 32)
        default: return nil
        }
    }

    /// Block `b` (of 32 values) of a row stored as `type` at `row`.
    static func block(_ type: QuantType, row: UnsafeRawPointer, _ b: Int) -> PackedBlock {
        var out = PackedBlock()
        switch type {
        case .q5_0, .q5_1:
            let src = row + b * type.blockBytes
            let d = loadF16(src, 0)
            let offset = type == .q5_1 ? 2 : 0
            let m = type == .q5_1 ? loadF16(src, 2) : -16 * d
            let qh = src.loadUnaligned(fromByteOffset: 2 + offset, as: UInt32.self).littleEndian
            let qs = (src + 6 + offset).assumingMemoryBound(to: UInt8.self)
            for j in 0..<16 {
                out[j] = (qs[j] & 15) | UInt8((qh >> UInt32(j)) & 1) << 4
                out[j + 16] = (qs[j] >> 4) | UInt8((qh >> UInt32(j + 16)) & 1) << 4
            }
            (out.dLo, out.mLo) = (d, m)
        case .q4_K, .q5_K:
            let src = row + (b / 8) * type.blockBytes, k = b % 8, chunk = k / 2
            let d = loadF16(src, 0), dmin = loadF16(src, 2)
            let bytes = src.assumingMemoryBound(to: UInt8.self)
            let (s, mn) = KQuants.scaleMin(k, bytes + 4)
            let qs = bytes + (type == .q5_K ? 48 : 16) + 32 * chunk
            for l in 0..<32 {
                var v = k % 2 == 0 ? qs[l] & 15 : qs[l] >> 4
                if type == .q5_K { v |= ((bytes[16 + l] >> UInt8(k)) & 1) << 4 }
                out[l] = v
            }
            (out.dLo, out.mLo) = (d * s, -(dmin * mn))
        case .q6_K:
            let src = row + (b / 8) * type.blockBytes, k = b % 8, half = k / 4, part = k % 4
            let bytes = src.assumingMemoryBound(to: UInt8.self)
            let d = loadF16(src, 208)
            let ql = bytes + 64 * half + (part % 2 == 1 ? 32 : 0), qh = bytes + 128 + 32 * half
            let scales = (src + 192 + 8 * half).assumingMemoryBound(to: Int8.self)
            for l in 0..<32 {
                let low = part < 2 ? ql[l] & 15 : ql[l] >> 4
                out[l] = low | ((qh[l] >> UInt8(2 * part)) & 3) << 4
            }
            out.dLo = d * Float(scales[2 * part])
            out.dHi = d * Float(scales[2 * part + 1])
            (out.mLo, out.mHi) = (-32 * out.dLo, -32 * out.dHi)
        default:
            preconditionFailure("\(type) has no packed blocks")
        }
        return out
    }
}
