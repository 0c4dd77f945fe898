// ReferenceDequantisation: the block formulas of ../shared/design/FACTS.md written out again from raw
// bytes, independently of Numerics (own half-float decoding), to check what the loader produces.

import ProximaNumerics

// MARK: Scalars

/// IEEE half → Float from the bit fields: sign, 5-bit exponent (bias 15), 10-bit fraction; subnormals too.
func referenceHalf(_ bits: UInt16) -> Float {
    let sign: Float = bits & 0x8000 != 0 ? -1 : 1
    let exponent = Int((bits >> 10) & 0x1F)
    let fraction = Float(bits & 0x3FF)
    switch exponent {
    case 0: return sign * fraction * 0x1p-24
    case 31: return fraction == 0 ? sign * .infinity : .nan
    default: return sign * (1 + fraction / 1024) * Float(sign: .plus, exponent: exponent - 15, significand: 1)
    }
}

private func u16(_ bytes: [UInt8], _ at: Int) -> UInt16 { UInt16(bytes[at]) | UInt16(bytes[at + 1]) << 8 }

// MARK: Blocks

/// The values stored in `bytes` as `type`, decoded as the format defines them:
/// Q8_0 (34-byte blocks) x = d·q; Q4_0 (18) x = d·(q − 8); Q4_1 (20) x = d·q + m, where value j of a
/// 4-bit block is the low nibble of quant byte j and value j+16 its high nibble.
func referenceValues(_ type: QuantType, _ bytes: [UInt8]) -> [Float] {
    switch type {
    case .f32:
        return stride(from: 0, to: bytes.count, by: 4).map {
            Float(bitPattern: UInt32(u16(bytes, $0)) | UInt32(u16(bytes, $0 + 2)) << 16)
        }
    case .f16:
        return stride(from: 0, to: bytes.count, by: 2).map { referenceHalf(u16(bytes, $0)) }
    case .bf16:
        return stride(from: 0, to: bytes.count, by: 2).map { Float(bitPattern: UInt32(u16(bytes, $0)) << 16) }
    case .q8_0:
        return stride(from: 0, to: bytes.count, by: 34).flatMap { b in
            let d = referenceHalf(u16(bytes, b))
            return (0..<32).map { d * Float(Int8(bitPattern: bytes[b + 2 + $0])) }
        }
    case .q4_0, .q4_1:
        let blockBytes = type == .q4_0 ? 18 : 20
        return stride(from: 0, to: bytes.count, by: blockBytes).flatMap { b in
            let d = referenceHalf(u16(bytes, b))
            let quants = bytes[(b + blockBytes - 16)..<(b + blockBytes)]
            let q = quants.map { Int($0 & 0x0F) } + quants.map { Int($0 >> 4) }
            if type == .q4_0 { return q.map { d * Float($0 - 8) } }
            let m = referenceHalf(u16(bytes, b + 2))
            return q.map { d * Float($0) + m }
        }
    case .q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K:
        // Numerics' dequantiser, itself checked bit for bit against the gguf package's (NumericsTests/KQuantTests).
        let count = bytes.count / type.blockBytes * type.blockSize
        var out = [Float](repeating: 0, count: count)
        bytes.withUnsafeBytes { src in out.withUnsafeMutableBufferPointer { dequantize(type, from: src.baseAddress!, count: count, into: $0.baseAddress!) } }
        return out
    }
}
