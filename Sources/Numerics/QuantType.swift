// QuantType: the tensor element encodings Proxima reads (GGML type codes) and their exact dequantisation.
// Block layouts follow ggml (see ../shared/design/FACTS.md); these scalar loops are the reference.

/// A GGML tensor type: how many values share a block and how many bytes a block takes.
public enum QuantType: UInt32, Sendable, CaseIterable, CustomStringConvertible {
    case f32 = 0
    case f16 = 1
    case q4_0 = 2
    case q4_1 = 3
    case q8_0 = 8
    case bf16 = 30

    /// Values per block.
    public var blockSize: Int {
        switch self {
        case .f32, .f16, .bf16: return 1
        case .q4_0, .q4_1, .q8_0: return 32
        }
    }

    /// Bytes per block.
    public var blockBytes: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .q4_0: return 18
        case .q4_1: return 20
        case .q8_0: return 34
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
        case .q8_0: return "Q8_0"
        case .bf16: return "BF16"
        }
    }

    /// The GGML name of a type code, also for codes Proxima does not read (for error messages).
    public static func ggmlName(code: UInt32) -> String {
        if let known = QuantType(rawValue: code) { return known.description }
        let names: [UInt32: String] = [6: "Q5_0", 7: "Q5_1", 9: "Q8_1", 10: "Q2_K", 11: "Q3_K", 12: "Q4_K",
                                       13: "Q5_K", 14: "Q6_K", 15: "Q8_K", 16: "IQ2_XXS", 17: "IQ2_XS",
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
/// nibbles 16…31); F16 and BF16 widen to F32. `count` must be a whole number of blocks.
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
    }
}
