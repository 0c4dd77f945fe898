// KQuantTests: Q5_0, Q5_1 and the K-quants dequantise bit for bit as the gguf Python package does
// (Fixtures/quant_vectors.json, made by Scripts/quant_vectors.py from random blocks), Q8_K as d·q worked out by
// hand, and each super-block's layout is checked by hand on one value of every sub-block kind.

import Foundation
import ProximaNumerics
import TestSupport
import XCTest

final class KQuantTests: XCTestCase {
    func testEveryTypeMatchesTheGGUFPackageBitForBit() throws {
        let url = TestPaths.root.appendingPathComponent("Tests/NumericsTests/Fixtures/quant_vectors.json")
        let fixture = try XCTUnwrap(try TestPaths.json(url) as? [String: Any])
        let types = try XCTUnwrap(fixture["types"] as? [String: [String: Any]])
        let expectedTypes: [QuantType] = [.q5_0, .q5_1, .q2_K, .q3_K, .q4_K, .q5_K, .q6_K]
        XCTAssertEqual(Set(types.keys), Set(expectedTypes.map(\.description)))
        for type in expectedTypes {
            let entry = try XCTUnwrap(types[type.description])
            let bytes = try hexBytes(try XCTUnwrap(entry["hex"] as? String))
            let bits = try XCTUnwrap(entry["bits"] as? [Int]).map(UInt32.init)
            XCTAssertEqual(bytes.count % type.blockBytes, 0, "\(type)")
            let count = bytes.count / type.blockBytes * type.blockSize
            XCTAssertEqual(bits.count, count, "\(type)")
            let got = dequantized(type, bytes, count: count)
            let mismatches = (0..<count).filter { got[$0].bitPattern != bits[$0] }
            XCTAssertTrue(mismatches.isEmpty, "\(type): \(mismatches.count) values differ, first at \(mismatches.first ?? -1): "
                          + "\(mismatches.first.map { "\(got[$0]) vs \(Float(bitPattern: bits[$0]))" } ?? "")")
        }
    }

    func testQ8_KIsAFloat32ScaleTimesInt8() {
        var block = withUnsafeBytes(of: Float(0.0625).bitPattern.littleEndian, Array.init)
        let q: [Int8] = (0..<256).map { Int8(truncatingIfNeeded: $0 * 7 - 128) }
        block += q.map { UInt8(bitPattern: $0) } + [UInt8](repeating: 0xAB, count: 32)   // bsums are not read
        XCTAssertEqual(block.count, QuantType.q8_K.blockBytes)
        XCTAssertEqual(dequantized(.q8_K, block, count: 256), q.map { 0.0625 * Float($0) })
    }

    func testQ4_KScalesAndMinsUnpackAsGGMLPacksThem() {
        // Sub-block 1 (values 32…63, high nibbles of bytes 16…47): scale = byte 5 & 63, min = byte 5 & 63…
        // and sub-block 5 (values 160…191) takes its low 4 bits from byte 9 and its top 2 bits from byte 1.
        var block = [UInt8](repeating: 0, count: 144)
        put(f16: 0.5, at: 0, in: &block)
        put(f16: 0.25, at: 2, in: &block)
        block[4 + 1] = 0b11_000011          // scale 1 = 3, top bits 3 for scale 5
        block[4 + 5] = 0b10_000101          // min 1 = 5, top bits 2 for min 5
        block[4 + 9] = 0x4_2                 // scale 5 low = 2, min 5 low = 4
        for l in 0..<32 { block[16 + l] = 0x70 }           // values 32…63: nibble 7
        for l in 0..<32 { block[16 + 64 + l] = 0x70 }      // values 160…191: nibble 7
        let y = dequantized(.q4_K, block, count: 256)
        XCTAssertEqual(y[40], 0.5 * 3 * 7 - 0.25 * 5)
        XCTAssertEqual(y[170], 0.5 * Float(2 | 3 << 4) * 7 - 0.25 * Float(4 | 2 << 4))
        XCTAssertEqual(y[0], 0, "sub-block 0: scale 0, min 0")
    }

    func testByteCountsOfTheNewTypes() {
        XCTAssertEqual(QuantType.q4_K.byteCount(values: 512), 288)
        XCTAssertEqual(QuantType.q6_K.byteCount(values: 256), 210)
        XCTAssertNil(QuantType.q4_K.byteCount(values: 576), "576 is not a whole number of 256-value super-blocks")
        XCTAssertEqual(QuantType.q5_0.byteCount(values: 576), 18 * 22)
    }

    private func put(f16 value: Float, at offset: Int, in block: inout [UInt8]) {
        let bits = Float16(value).bitPattern
        block[offset] = UInt8(bits & 0xFF)
        block[offset + 1] = UInt8(bits >> 8)
    }

    private func hexBytes(_ hex: String) throws -> [UInt8] {
        let chars = Array(hex.utf8)
        guard chars.count % 2 == 0 else { throw CocoaError(.coderInvalidValue) }
        return try stride(from: 0, to: chars.count, by: 2).map {
            guard let byte = UInt8(String(decoding: chars[$0..<($0 + 2)], as: UTF8.self), radix: 16) else { throw CocoaError(.coderInvalidValue) }
            return byte
        }
    }
}
