// KQuants: the reference dequantisation of ggml's K-quants — 256 values per super-block, split into
// sub-blocks with their own scales (and minimums) stored in a few bits and scaled by the super-block's f16
// (f32 for Q8_K) factors. The layouts, byte by byte (ggml-common.h):
//
//   Q2_K  84 B: scales[16] (low 4 bits scale, high 4 bits min, per 16 values), qs[64] (2 bits), d, dmin
//   Q3_K 110 B: hmask[32] (the third bit), qs[64] (2 bits), scales[12] (16 six-bit scales), d
//   Q4_K 144 B: d, dmin, scales[12] (8 six-bit scales and 8 six-bit mins), qs[128] (4 bits)
//   Q5_K 176 B: d, dmin, scales[12] (as Q4_K), qh[32] (the fifth bit), qs[128] (4 bits)
//   Q6_K 210 B: ql[128] (low 4 bits), qh[64] (high 2 bits), scales[16] (int8, per 16 values), d
//   Q8_K 292 B: d (f32), qs[256] (int8), bsums[16] (int16, sums of 16 values; not needed to dequantise)
//
// Values are computed in the order ggml and the gguf Python package compute them (a sub-block's factor
// d·scale first, then times q, minus dmin·min), so results are bit-identical to theirs.

enum KQuants {
    /// Dequantises one super-block of 256 values.
    static func dequantizeSuperBlock(_ type: QuantType, _ block: UnsafeRawPointer, into y: UnsafeMutablePointer<Float>) {
        let u8 = block.assumingMemoryBound(to: UInt8.self)
        switch type {
        case .q2_K: q2K(u8, y)
        case .q3_K: q3K(u8, y)
        case .q4_K, .q5_K: q4Kq5K(u8, y, fifthBit: type == .q5_K)
        case .q6_K: q6K(u8, y)
        case .q8_K:
            let d = block.loadUnaligned(as: Float.self)
            for i in 0..<256 { y[i] = d * Float(Int8(bitPattern: u8[4 + i])) }
        default: preconditionFailure("\(type) is not a K-quant")
        }
    }

    /// Q4_K and Q5_K's packing of eight 6-bit scales and eight 6-bit mins in 12 bytes: sub-block j < 4 keeps
    /// its scale and min in the low 6 bits of bytes j and j + 4; j ≥ 4 in the nibbles of byte j + 4 with the
    /// top 2 bits taken from bytes j − 4 and j.
    @inline(__always) static func scaleMin(_ j: Int, _ q: UnsafePointer<UInt8>) -> (scale: Float, min: Float) {
        if j < 4 { return (Float(q[j] & 63), Float(q[j + 4] & 63)) }
        return (Float((q[j + 4] & 0x0F) | ((q[j - 4] >> 6) << 4)), Float((q[j + 4] >> 4) | ((q[j] >> 6) << 4)))
    }

    private static func q4Kq5K(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>, fifthBit: Bool) {
        let raw = UnsafeRawPointer(b)
        let d = loadF16(raw, 0), dmin = loadF16(raw, 2)
        let scales = b + 4
        let qh = b + 16                       // Q5_K only
        let qs = b + (fifthBit ? 48 : 16)
        for chunk in 0..<4 {                  // 64 values: 32 low nibbles, then 32 high nibbles of 32 bytes
            let (s1, m1) = scaleMin(2 * chunk, scales), (s2, m2) = scaleMin(2 * chunk + 1, scales)
            let d1 = d * s1, dm1 = dmin * m1, d2 = d * s2, dm2 = dmin * m2
            let q = qs + 32 * chunk
            for l in 0..<32 {
                var low = Int(q[l] & 0x0F), high = Int(q[l] >> 4)
                if fifthBit {
                    low |= Int((qh[l] >> UInt8(2 * chunk)) & 1) << 4
                    high |= Int((qh[l] >> UInt8(2 * chunk + 1)) & 1) << 4
                }
                y[64 * chunk + l] = d1 * Float(low) - dm1
                y[64 * chunk + 32 + l] = d2 * Float(high) - dm2
            }
        }
    }

    private static func q6K(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = loadF16(UnsafeRawPointer(b), 208)
        for half in 0..<2 {                   // 128 values from 64 bytes of ql, 32 of qh, 8 scales
            let ql = b + 64 * half, qh = b + 128 + 32 * half
            let sc = UnsafeRawPointer(b + 192 + 8 * half).assumingMemoryBound(to: Int8.self)
            let out = y + 128 * half
            for l in 0..<32 {
                let s = l / 16
                let q1 = Int(ql[l] & 0x0F) | Int(qh[l] & 3) << 4
                let q2 = Int(ql[l + 32] & 0x0F) | Int((qh[l] >> 2) & 3) << 4
                let q3 = Int(ql[l] >> 4) | Int((qh[l] >> 4) & 3) << 4
                let q4 = Int(ql[l + 32] >> 4) | Int((qh[l] >> 6) & 3) << 4
                out[l] = d * Float(sc[s]) * Float(q1 - 32)
                out[l + 32] = d * Float(sc[s + 2]) * Float(q2 - 32)
                out[l + 64] = d * Float(sc[s + 4]) * Float(q3 - 32)
                out[l + 96] = d * Float(sc[s + 6]) * Float(q4 - 32)
            }
        }
    }

    private static func q3K(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = loadF16(UnsafeRawPointer(b), 108)
        let hmask = b, qs = b + 32, packed = b + 96
        // Sixteen 6-bit scales: low nibbles from bytes 0…7 (scales 0…7 low, 8…15 high nibble), top 2 bits
        // from bytes 8…11 (2 bits per scale, scale i in byte 8 + i % 4 at bit 2·(i / 4)).
        var scales = [Float](repeating: 0, count: 16)
        for i in 0..<16 {
            let low = i < 8 ? packed[i] & 0x0F : packed[i - 8] >> 4
            let high = (packed[8 + i % 4] >> UInt8(2 * (i / 4))) & 3
            scales[i] = Float(Int(low | high << 4) - 32)
        }
        var index = 0
        for half in 0..<2 {                   // 128 values from 32 bytes of qs, 2 bits at a time
            let q = qs + 32 * half
            for shift in 0..<4 {
                let bit = UInt8(1) << UInt8(4 * half + shift)
                for part in 0..<2 {           // 16 values each, with their own scale
                    let dl = d * scales[index]
                    index += 1
                    for l in (16 * part)..<(16 * part + 16) {
                        let value = Int((q[l] >> UInt8(2 * shift)) & 3) - (hmask[l] & bit != 0 ? 0 : 4)
                        y[128 * half + 32 * shift + l] = dl * Float(value)
                    }
                }
            }
        }
    }

    private static func q2K(_ b: UnsafePointer<UInt8>, _ y: UnsafeMutablePointer<Float>) {
        let d = loadF16(UnsafeRawPointer(b), 80), dmin = loadF16(UnsafeRawPointer(b), 82)
        let scales = b, qs = b + 16
        var index = 0
        for half in 0..<2 {
            let q = qs + 32 * half
            for shift in 0..<4 {
                for part in 0..<2 {
                    let sc = scales[index]
                    index += 1
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in (16 * part)..<(16 * part + 16) {
                        y[128 * half + 32 * shift + l] = dl * Float((q[l] >> UInt8(2 * shift)) & 3) - ml
                    }
                }
            }
        }
    }
}
