// GGUFRoundTripTests: files written by GGUFWriter read back by GGUFFile: every metadata value type, key
// order, alignment, tensors of every type and rank byte-exact; version 2 read, versions 1 and 4 refused.

import ModelFiles
import ProximaNumerics
import TestModels
import XCTest

final class GGUFRoundTripTests: XCTestCase {
    private let scratch = ScratchDirectory()

    // MARK: Metadata

    /// One value of every type, arrays of every element type, nested and empty arrays.
    static let everyValueType: [(key: String, value: GGUFValue)] = [
        ("t.u8", .uint8(255)),
        ("t.i8", .int8(-128)),
        ("t.u16", .uint16(65535)),
        ("t.i16", .int16(-32768)),
        ("t.u32", .uint32(4_000_000_000)),
        ("t.i32", .int32(-2_000_000_000)),
        ("t.u64", .uint64(UInt64.max)),
        ("t.i64", .int64(Int64.min)),
        ("t.f32", .float32(-1.5e-7)),
        ("t.f64", .float64(Double.pi)),
        ("t.bool.true", .bool(true)),
        ("t.bool.false", .bool(false)),
        ("t.string", .string("plain")),
        ("t.string.utf8", .string("héllo, 世界 🦙 \u{0}end")),
        ("t.string.empty", .string("")),
        ("t.array.u8", .array(.uint8, [.uint8(0), .uint8(7), .uint8(255)])),
        ("t.array.i8", .array(.int8, [.int8(-1), .int8(127)])),
        ("t.array.u16", .array(.uint16, [.uint16(1), .uint16(65535)])),
        ("t.array.i16", .array(.int16, [.int16(-300)])),
        ("t.array.u32", .array(.uint32, [.uint32(1), .uint32(2), .uint32(3)])),
        ("t.array.i32", .array(.int32, [.int32(-5), .int32(5)])),
        ("t.array.u64", .array(.uint64, [.uint64(1 << 40)])),
        ("t.array.i64", .array(.int64, [.int64(-(1 << 40))])),
        ("t.array.f32", .array(.float32, [.float32(0.25), .float32(-0), .float32(.infinity)])),
        ("t.array.f64", .array(.float64, [.float64(1e300), .float64(-2.5)])),
        ("t.array.bool", .array(.bool, [.bool(true), .bool(false), .bool(true)])),
        ("t.array.string", .array(.string, [.string("a"), .string(""), .string("Ġ t"), .string("日本")])),
        ("t.array.empty.u32", .array(.uint32, [])),
        ("t.array.empty.string", .array(.string, [])),
        ("t.array.nested", .array(.array, [
            .array(.int32, [.int32(1), .int32(2)]),
            .array(.string, [.string("x")]),
            .array(.array, [.array(.float32, [.float32(3)]), .array(.uint8, [])]),
            .array(.bool, []),
        ])),
        ("t.array.empty.nested", .array(.array, [])),
    ]

    func testEveryMetadataValueTypeRoundTripsInKeyOrder() throws {
        var writer = GGUFWriter()
        for (key, value) in Self.everyValueType { writer.set(key, value) }
        let path = scratch.path("values.gguf")
        try writer.write(to: path)

        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.metadata.map(\.key), Self.everyValueType.map(\.key))
        for ((key, expected), (readKey, read)) in zip(Self.everyValueType, file.metadata) {
            XCTAssertEqual(readKey, key)
            XCTAssertEqual(read, expected, key)
            XCTAssertEqual(read.type, expected.type, key)
            XCTAssertEqual(file[key], expected, key)
        }
        XCTAssertTrue(file.tensors.isEmpty)
        XCTAssertNil(file["t.absent"])
    }

    func testTypedAccessorsConvertAndNameTheKey() throws {
        var writer = GGUFWriter()
        for (key, value) in Self.everyValueType { writer.set(key, value) }
        let path = scratch.path("accessors.gguf")
        try writer.write(to: path)
        let file = try GGUFFile(path: path)

        XCTAssertEqual(try file.requiredInt("t.i8"), -128)
        XCTAssertEqual(try file.requiredInt("t.u32"), 4_000_000_000)
        XCTAssertEqual(try file.requiredDouble("t.f32"), Double(Float(-1.5e-7)))
        XCTAssertEqual(try file.requiredDouble("t.u16"), 65535)
        XCTAssertEqual(try file.requiredString("t.string.utf8"), "héllo, 世界 🦙 \u{0}end")
        XCTAssertEqual(try file.requiredStringArray("t.array.string"), ["a", "", "Ġ t", "日本"])
        XCTAssertEqual(try file.requiredStringArray("t.array.empty.string"), [])

        assertRefused(try file.requiredInt("t.absent"), path: path, .missing, what: "metadata key 't.absent'")
        assertRefused(try file.requiredInt("t.u64"), path: path, .malformed, what: "metadata 't.u64'", problem: ["integer"])
        assertRefused(try file.requiredInt("t.string"), path: path, .malformed, what: "metadata 't.string'", problem: ["integer", "string"])
        assertRefused(try file.requiredDouble("t.bool.true"), path: path, .malformed, what: "metadata 't.bool.true'", problem: ["number", "bool"])
        assertRefused(try file.requiredString("t.u8"), path: path, .malformed, what: "metadata 't.u8'", problem: ["string", "uint8"])
        assertRefused(try file.requiredStringArray("t.array.u8"), path: path, .malformed, what: "metadata 't.array.u8'", problem: ["array of strings"])
        assertRefused(try file.requiredStringArray("t.string"), path: path, .malformed, what: "metadata 't.string'", problem: ["array of strings"])
    }

    // MARK: Tensors

    /// One tensor of every type, with 1 to 4 dimensions, contents random but fixed.
    private func tensorsOfEveryType() -> [TinyLlamaFile.Tensor] {
        var random = TestRandom(seed: 7)
        let trailing: [[Int]] = [[], [3], [2, 3], [1, 2, 2], [5], [2, 1, 1]]
        return QuantType.allCases.enumerated().map { i, type in
            let shape = [type.blockSize == 256 ? 256 : 32 * (1 + i % 3)] + trailing[i % trailing.count]
            let bytes = TinyLlamaFile.randomBytes(type, count: shape.reduce(1, *), using: &random)
            return TinyLlamaFile.Tensor(name: "tensor.\(type)", shape: shape, type: type, bytes: bytes)
        }
    }

    private func assertTensorsReadBack(alignment: Int, line: UInt = #line) throws {
        let expected = tensorsOfEveryType()
        XCTAssertEqual(Set(expected.map(\.type)), Set(QuantType.allCases), line: line)
        var writer = GGUFWriter(alignment: alignment)
        writer.set("general.name", .string("tensors"))
        for t in expected { writer.addTensor(t.name, shape: t.shape, type: t.type, bytes: t.bytes) }
        let path = scratch.path("tensors-\(alignment).gguf")
        try writer.write(to: path)

        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.alignment, alignment, line: line)
        XCTAssertEqual(file.tensors.map(\.name), expected.map(\.name), line: line)
        for t in expected {
            guard let read = file.tensor(t.name) else { XCTFail("\(t.name) missing", line: line); continue }
            XCTAssertEqual(read.shape, t.shape, t.name, line: line)
            XCTAssertEqual(read.type, t.type, t.name, line: line)
            XCTAssertEqual(read.elementCount, t.shape.reduce(1, *), t.name, line: line)
            XCTAssertEqual(read.byteCount, t.bytes.count, t.name, line: line)
            XCTAssertEqual(read.fileOffset % alignment, 0, "\(t.name) data is not aligned", line: line)
            // The data is read in place from the memory map.
            XCTAssertEqual(file.data(of: read), file.map.base + read.fileOffset, line: line)
            let bytes = Array(UnsafeRawBufferPointer(start: file.data(of: read), count: read.byteCount))
            XCTAssertEqual(bytes, t.bytes, "\(t.name) bytes differ", line: line)
        }
        XCTAssertNil(file.tensor("tensor.absent"), line: line)
    }

    func testTensorsOfEveryTypeAndRankReadBackByteExact() throws {
        try assertTensorsReadBack(alignment: 32)
    }

    func testAlignment64IsRecordedAndHonoured() throws {
        try assertTensorsReadBack(alignment: 64)
        let file = try GGUFFile(path: scratch.path("tensors-64.gguf"))
        XCTAssertEqual(file["general.alignment"], .uint32(64))
        XCTAssertEqual(file.metadata.map(\.key), ["general.alignment", "general.name"])
    }

    func testSmallAndLargeAlignments() throws {
        try assertTensorsReadBack(alignment: 1)
        try assertTensorsReadBack(alignment: 4096)
    }

    // MARK: Versions

    /// The tensor file of the test above with its version field (bytes 4…7) replaced.
    private func tensorFile(version: UInt32) throws -> String {
        var writer = GGUFWriter()
        writer.set("general.name", .string("versions"))
        for t in tensorsOfEveryType() { writer.addTensor(t.name, shape: t.shape, type: t.type, bytes: t.bytes) }
        var bytes = writer.bytes()
        withUnsafeBytes(of: version.littleEndian) { bytes.replaceSubrange(4..<8, with: $0) }
        return scratch.write(bytes, to: "version-\(version).gguf")
    }

    func testVersion2ReadsLikeVersion3() throws {
        let v3 = try GGUFFile(path: try tensorFile(version: 3))
        let v2 = try GGUFFile(path: try tensorFile(version: 2))
        XCTAssertEqual(v2.version, 2)
        XCTAssertEqual(v2.metadata.map(\.key), v3.metadata.map(\.key))
        XCTAssertEqual(v2.metadata.map(\.value), v3.metadata.map(\.value))
        XCTAssertEqual(v2.tensors.map(\.name), v3.tensors.map(\.name))
        XCTAssertEqual(v2.tensors.map(\.shape), v3.tensors.map(\.shape))
        XCTAssertEqual(v2.tensors.map(\.fileOffset), v3.tensors.map(\.fileOffset))
    }

    func testOtherVersionsAreRefusedNamingTheVersion() throws {
        for version: UInt32 in [0, 1, 4, 0x0300_0000] {
            let path = try tensorFile(version: version)
            assertRefused(try GGUFFile(path: path), path: path, .unsupported, what: "header", problem: ["GGUF version \(version)"])
        }
    }
}
