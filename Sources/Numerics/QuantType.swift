// QuantType: the tensor element encodings Proxima reads (GGML type codes) and their exact dequantisation.
// Block layouts follow ggml (see ../shared/design/FACTS.md); these scalar loops are the reference.

/// A GGML tensor type: how many values share a block and how many bytes a block takes.
public enum QuantType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q5_0 = 6
    case q5_1 = 7
    case q8_0 = 8
    case q2_K = 10
    case q3_K = 11
    case q4_K = 12
    case q5_K = 13
    case q6_K = 14
    case q8_K = 15
    case bf16 = 30

    /// Values per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q5_0, .q5_1, .q8_0: return 32
        case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K: return 256
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q5_0: return 22
        case .q5_1: return 24
        case .q8_0: return 34
        case .q2_K: return 84
        case .q3_K: return 110
        case .q4_K: return 144
        case .q5_K: return 176
        case .q6_K: return 210
        case .q8_K: return 292
        }
    }

    /// Where a block keeps its f16 factors (the scale d, then the offset m or dmin where the type has one), in
    /// bytes from the block's start; every other byte holds quants or sub-block scales. Empty for the float
    /// types and Q8_K (whose d is an f32 at offset 0).
    public var f16FactorOffsets: [Int] {
        switch self {
        case .f32, .f16, .bf16, .q8_K: return []
        case .q4_0, .q5_0, .q8_0: return [0]
        case .q4_1, .q5_1, .q4_K, .q5_K: return [0, 2]
        case .q2_K: return [80, 82]
        case .q3_K: return [108]
        case .q6_K: return [208]
        }
    }

    /// Bytes that `count` values take; nil when `count` is not a whole number of blocks.
    public func byteCount(values count: Int) -> Int? {
        guard count >= 0, count % blockSize == 0 else { return nil }
        let (bytes, overflow) = (count / blockSize).multipliedReportingOverflow(by: blockBytes)
        return overflow ? nil : bytes
    }

    public var description: String {
        switch self {
        case .f32: return "F32"
        case .f16: return "F16"
        case .q4_0: return "Q4_0"
        case .q4_1: return "Q4_1"
        case .q5_0: return "Q5_0"
        case .q5_1: return "Q5_1"
        case .q8_0: return "Q8_0"
        case .q2_K: return "Q2_K"
        case .q3_K: return "Q3_K"
        case .q4_K: return "Q4_K"
        case .q5_K: return "Q5_K"
        case .q6_K: return "Q6_K"
        case .q8_K: return "Q8_K"
        case .bf16: return "BF16"
        }
    }

    /// The names of the types Proxima reads, for error messages.
    public static var supportedNames: String { allCases.map(\.description).joined(separator: ", ") }

    /// The GGML name of a type code, also for codes Proxima does not read (for error messages).
    public static func ggmlName(code: UInt32) -> String {
        if let known = QuantType(rawValue: code) { return known.description }
        let names: [UInt32: String] = [9: "Q8_1", 16: "IQ2_XXS", 17: "IQ2_XS",
                                       18: "IQ3_XXS", 19: "IQ1_S", 20: "IQ4_NL", 21: "IQ3_S", 22: "IQ2_S",
                                       23: "IQ4_XS", 24: "I8", 25: "I16", 26: "I32", 27: "I64", 28: "F64",
                                       29: "IQ1_M", 34: "TQ1_0", 35: "TQ2_0", 39: "MXFP4"]
        return names[code] ?? "type \(code)"
    }
}

// MARK: - Scalar helpers

@inline(__always) func loadF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

@inline(__always) func loadBF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) << 16)
}

// MARK: - Dequantisation (reference)

/// Dequantises `count` values stored as `type` at `src` into `dst`, exactly as the format defines them:
/// Q8_0 x = d·q; Q4_0 x = d·(q − 8); Q4_1 x = d·q + m (low nibbles are values 0…15 of a block, high
/// nibbles 16…31); Q5_0 and Q5_1 as Q4_0 and Q4_1 with a fifth bit from `qh` (and an offset of 16);
/// the K-quants per 256-value super-block (KQuants.swift); F16 and BF16 widen to F32. `count` must be a
/// whole number of blocks.
public func dequantize(_ type: QuantType, from src: UnsafeRawPointer, count: Int, into dst: UnsafeMutablePointer<Float>) {
    precondition(count % type.blockSize == 0, "count \(count) is not a whole number of \(type) blocks")
    switch type {
    case .f32:
        dst.update(from: src.assumingMemoryBound(to: Float.self), count: count)
    case .f16:
        for i in 0..<count { dst[i] = loadF16(src, 2 * i) }
    case .bf16:
        for i in 0..<count { dst[i] = loadBF16(src, 2 * i) }
    case .q8_0:
        for b in 0..<(count / 32) {
            let block = src + 34 * b
            let d = loadF16(block, 0)
            for j in 0..<32 {
                dst[32 * b + j] = d * Float(block.load(fromByteOffset: 2 + j, as: Int8.self))
            }
        }
    case .q4_0:
        for b in 0..<(count / 32) {
            let block = src + 18 * b
            let d = loadF16(block, 0)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 2 + j, as: UInt8.self)
                dst[32 * b + j] = d * Float(Int(byte & 0x0F) - 8)
                dst[32 * b + j + 16] = d * Float(Int(byte >> 4) - 8)
            }
        }
    case .q4_1:
        for b in 0..<(count / 32) {
            let block = src + 20 * b
            let d = loadF16(block, 0)
            let m = loadF16(block, 2)
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: 4 + j, as: UInt8.self)
                dst[32 * b + j] = d * Float(byte & 0x0F) + m
                dst[32 * b + j + 16] = d * Float(byte >> 4) + m
            }
        }
    case .q5_0, .q5_1:
        let minimum = type == .q5_1
        let bytes = type.blockBytes
        for b in 0..<(count / 32) {
            let block = src + bytes * b
            let d = loadF16(block, 0)
            let m = minimum ? loadF16(block, 2) : 0
            let qhAt = minimum ? 4 : 2
            let qh = block.loadUnaligned(fromByteOffset: qhAt, as: UInt32.self).littleEndian
            for j in 0..<16 {
                let byte = block.load(fromByteOffset: qhAt + 4 + j, as: UInt8.self)
                let low = Int(byte & 0x0F) | Int((qh >> UInt32(j)) & 1) << 4
                let high = Int(byte >> 4) | Int((qh >> UInt32(j + 16)) & 1) << 4
                if minimum {
                    dst[32 * b + j] = d * Float(low) + m
                    dst[32 * b + j + 16] = d * Float(high) + m
                } else {
                    dst[32 * b + j] = d * Float(low - 16)
                    dst[32 * b + j + 16] = d * Float(high - 16)
                }
            }
        }
    case .q2_K, .q3_K, .q4_K, .q5_K, .q6_K, .q8_K:
        for b in 0..<(count / 256) {
            KQuants.dequantizeSuperBlock(type, src + type.blockBytes * b, into: dst + 256 * b)
        }
    }
}
