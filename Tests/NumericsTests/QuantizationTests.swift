// QuantizationTests: exact dequantisation of every block format against values worked out by hand, and the
// packed quantised matvec against dequantise-then-dot in Double.

import XCTest
import ProximaNumerics

final class QuantizationTests: XCTestCase {
    private func f16Bytes(_ v: Float) -> [UInt8] { let b = Float16(v).bitPattern; return [UInt8(b & 0xFF), UInt8(b >> 8)] }

    func testQ8_0DequantisesAsDTimesQ() {
        let q: [Int8] = (0..<32).map { Int8($0 * 8 - 128) }
        let block = f16Bytes(0.5) + q.map { UInt8(bitPattern: $0) }
        XCTAssertEqual(dequantized(.q8_0, block, count: 32), q.map { 0.5 * Float($0) })
    }

    func testQ4_0DequantisesLowNibblesFirst() {
        // byte j holds value j (low nibble) and value j + 16 (high nibble); x = d·(q − 8)
        let nibbles: [UInt8] = (0..<16).map { UInt8($0) | UInt8(15 - $0) << 4 }
        let block = f16Bytes(0.25) + nibbles
        let low: [Float] = (0..<16).map { 0.25 * Float($0 - 8) }
        let high: [Float] = (0..<16).map { 0.25 * Float(15 - $0 - 8) }
        let expected = low + high
        XCTAssertEqual(dequantized(.q4_0, block, count: 32), expected)
    }

    func testQ4_1DequantisesAsDTimesQPlusM() {
        let nibbles: [UInt8] = (0..<16).map { UInt8($0) | UInt8($0 / 2) << 4 }
        let block = f16Bytes(0.125) + f16Bytes(-1.5) + nibbles
        let low: [Float] = (0..<16).map { 0.125 * Float($0) - 1.5 }
        let high: [Float] = (0..<16).map { 0.125 * Float($0 / 2) - 1.5 }
        let expected = low + high
        XCTAssertEqual(dequantized(.q4_1, block, count: 32), expected)
    }

    func testHalfPrecisionFormatsWiden() {
        XCTAssertEqual(dequantized(.f16, f16Bytes(1.5) + f16Bytes(-0.25), count: 2), [1.5, -0.25])
        let bf: [UInt8] = [0xC0, 0x3F, 0x80, 0xBE]   // 1.5 and −0.25 as bfloat16 (little-endian)
        XCTAssertEqual(dequantized(.bf16, bf, count: 2), [1.5, -0.25])
    }

    func testByteCountsFollowTheBlockLayouts() {
        XCTAssertEqual(QuantType.q4_1.byteCount(values: 64), 40)
        XCTAssertEqual(QuantType.q4_0.byteCount(values: 64), 36)
        XCTAssertEqual(QuantType.q8_0.byteCount(values: 64), 68)
        XCTAssertNil(QuantType.q8_0.byteCount(values: 33))
    }

    func testPackedMatVecMatchesDequantisedDot() {
        var rng = TestRNG(7)
        for type in [QuantType.q4_0, .q4_1, .q8_0, .q5_0, .q5_1, .q4_K, .q5_K, .q6_K] {
            // 2112 (2304) columns: more than one dequantised column chunk; 130 vectors: more than one block of
            // vectors; 5–16 vectors: row pairs in chunks of up to 8 (16: two full chunks, the tree reduction).
            let shapes = type.blockSize == 256 ? [(1, 256), (7, 512), (13, 768), (9, 2304)] : [(1, 32), (7, 64), (13, 96), (33, 576), (9, 2112)]
            for (rows, cols) in shapes {
                let bytes = randomBlocks(type, count: rows * cols, rng: &rng)
                let w = dequantized(type, bytes, count: rows * cols)
                let packed = bytes.withUnsafeBytes { PackedMatrix(type: type, rows: rows, cols: cols, bytes: $0.baseAddress!)! }
                for vectors in [1, 2, 3, 4, 5, 6, 8, 9, 10, 13, 16, 17, 24, 130] {
                    let x = rng.floats(vectors * cols)
                    for portable in [false, true] {
                        var y = [Float](repeating: .nan, count: vectors * rows)
                        x.withUnsafeBufferPointer { xp in
                            y.withUnsafeMutableBufferPointer { yp in
                                // Two row ranges, as the pool would split them (not always on a group boundary).
                                let mid = rows / 2
                                for range in [0..<mid, mid..<rows] {
                                    packed.matVec(rows: range, x: xp.baseAddress!, xStride: cols, vectors: vectors,
                                                  y: yp.baseAddress!, yStride: rows, portable: portable)
                                }
                            }
                        }
                        XCTAssertLessThan(maxDotError(y, x, w, m: vectors, n: rows, k: cols), 1e-6,
                                          "\(type) \(rows)×\(cols), \(vectors) vectors, portable \(portable)")
                    }
                }
            }
        }
    }

    /// The packed layout holds the values GGUF defines: Q5_0's d·(q − 16) and Q6_K's d·sc·(q − 32) bit for bit (the
    /// kernels' fma is exact there), the types with a subtracted minimum within the last bit of the separate
    /// multiply and subtract.
    func testPackedBlocksHoldTheStoredValues() {
        var rng = TestRNG(11)
        for type in [QuantType.q5_0, .q5_1, .q4_K, .q5_K, .q6_K] {
            let (rows, cols) = (6, 2 * type.blockSize)
            let bytes = randomBlocks(type, count: rows * cols, rng: &rng)
            let reference = dequantized(type, bytes, count: rows * cols)
            let packed = bytes.withUnsafeBytes { PackedMatrix(type: type, rows: rows, cols: cols, bytes: $0.baseAddress!)! }
            var mine = [Float](repeating: .nan, count: rows * cols)
            mine.withUnsafeMutableBufferPointer { packed.dequantize(rows: 0..<rows, into: $0.baseAddress!) }
            for k in 0..<(rows * cols) {
                if type == .q5_0 || type == .q6_K {
                    XCTAssertEqual(mine[k], reference[k], "\(type) value \(k)")
                } else {
                    XCTAssertEqual(mine[k], reference[k], accuracy: 2 * reference[k].ulp + 1e-9, "\(type) value \(k)")
                }
            }
        }
    }

    func testPackedMatrixRefusesUnpackableTypes() {
        let bytes = [UInt8](repeating: 0, count: 128)
        bytes.withUnsafeBytes { XCTAssertNil(PackedMatrix(type: .f16, rows: 2, cols: 32, bytes: $0.baseAddress!)) }
    }
}
