// GGUFMetadataRefusalTests: crafted files whose path, header or metadata is bad, each refused with the
// ModelFileError case that names the file, the header field or key, and the problem.

import ModelFiles
import XCTest

final class GGUFMetadataRefusalTests: XCTestCase {
    private let scratch = ScratchDirectory()

    private func assertFileRefused(_ bytes: [UInt8], _ kind: RefusalKind, what: String, problem: [String],
                                   line: UInt = #line) {
        let path = scratch.write(bytes, to: "crafted-\(line).gguf")
        assertRefused(try GGUFFile(path: path), path: path, kind, what: what, problem: problem, line: line)
    }

    // MARK: Paths and headers

    func testMissingPathAndDirectoryAreUnreadable() {
        let missing = scratch.path("absent.gguf")
        assertRefused(try GGUFFile(path: missing), path: missing, .unreadable, what: "", problem: ["No such file"])
        let directory = scratch.url.path
        assertRefused(try GGUFFile(path: directory), path: directory, .unreadable, what: "", problem: ["not a regular file"])
    }

    func testEmptyFile() {
        assertFileRefused([], .malformed, what: "file", problem: ["empty"])
    }

    func testWrongMagic() {
        var b = GGUFBytes()
        b.header(tensors: 0, metadata: 0)
        b.bytes[0] = UInt8(ascii: "X")
        assertFileRefused(b.bytes, .malformed, what: "header", problem: ["not a GGUF file"])
        assertFileRefused(Array("GGML and more bytes than a header".utf8), .malformed, what: "header", problem: ["not a GGUF file"])
        assertFileRefused(Array("GG".utf8), .malformed, what: "header", problem: ["not a GGUF file"])
    }

    func testHeaderCountsThatCannotFitAreRefusedBeforeAllocating() {
        var b = GGUFBytes()
        b.header(tensors: 1 << 60, metadata: 0)
        assertFileRefused(b.bytes, .malformed, what: "header tensor count", problem: ["count \(UInt64(1) << 60)", "cannot fit"])
        b = GGUFBytes()
        b.header(tensors: 0, metadata: UInt64.max)
        assertFileRefused(b.bytes, .malformed, what: "header metadata count", problem: ["count \(UInt64.max)", "cannot fit"])
    }

    // MARK: Keys and values

    func testAbsurdStringLengthIsRefusedWithoutAllocating() {
        var b = GGUFBytes()
        b.header(tensors: 0, metadata: 1)
        b.u64(1 << 60)
        b.bytes.append(contentsOf: Array("general.name".utf8))
        assertFileRefused(b.bytes, .malformed, what: "metadata key #0", problem: ["count \(UInt64(1) << 60)", "cannot fit"])

        let value = GGUFBytes.oneKey("general.name", type: .string) { $0.u64(1 << 60); $0.u32(0) }
        assertFileRefused(value, .malformed, what: "metadata 'general.name'", problem: ["count \(UInt64(1) << 60)", "cannot fit"])
    }

    func testAbsurdArrayCountIsRefusedWithoutAllocating() {
        let bytes = GGUFBytes.oneKey("tokenizer.ggml.tokens", type: .array) { $0.u32(GGUFValueType.string.rawValue); $0.u64(1 << 60) }
        assertFileRefused(bytes, .malformed, what: "metadata 'tokenizer.ggml.tokens' array length", problem: ["cannot fit"])
    }

    func testArrayLongerThanTheBytesLeftIsRefusedBeforeReadingIt() {
        let bytes = GGUFBytes.oneKey("k.sizes", type: .array) { b in
            b.u32(GGUFValueType.uint64.rawValue); b.u64(10)
            for i in 0..<5 { b.u64(UInt64(i)) }
        }
        assertFileRefused(bytes, .malformed, what: "metadata 'k.sizes' array length", problem: ["count 10 cannot fit in the 40 bytes left"])
    }

    func testUnknownValueTypes() {
        let scalar = GGUFBytes.oneKey(Array("k.odd".utf8), type: 13) { $0.u32(0) }
        assertFileRefused(scalar, .malformed, what: "metadata 'k.odd'", problem: ["unknown value type 13"])
        let element = GGUFBytes.oneKey("k.array", type: .array) { $0.u32(99); $0.u64(1); $0.u32(0) }
        assertFileRefused(element, .malformed, what: "metadata 'k.array'", problem: ["unknown array element type 99"])
    }

    func testBoolOtherThanZeroOrOne() {
        assertFileRefused(GGUFBytes.oneKey("k.flag", type: .bool) { $0.u8(2) },
                          .malformed, what: "metadata 'k.flag'", problem: ["bool value 2"])
        let inArray = GGUFBytes.oneKey("k.flags", type: .array) {
            $0.u32(GGUFValueType.bool.rawValue); $0.u64(3); $0.u8(1); $0.u8(0); $0.u8(255)
        }
        assertFileRefused(inArray, .malformed, what: "metadata 'k.flags'[2]", problem: ["bool value 255"])
    }

    func testInvalidUTF8InKeyAndValues() {
        let badKey = GGUFBytes.oneKey([0x6B, 0xC3, 0x28], type: GGUFValueType.uint8.rawValue) { $0.u8(1) }
        assertFileRefused(badKey, .malformed, what: "metadata key #0", problem: ["not valid UTF-8"])
        let badValue = GGUFBytes.oneKey("general.name", type: .string) { $0.string([0x61, 0xFF, 0x62]) }
        assertFileRefused(badValue, .malformed, what: "metadata 'general.name'", problem: ["not valid UTF-8"])
        let badElement = GGUFBytes.oneKey("tokenizer.ggml.tokens", type: .array) {
            $0.u32(GGUFValueType.string.rawValue); $0.u64(2); $0.string("ok"); $0.string([0xED, 0xA0, 0x80])
        }
        assertFileRefused(badElement, .malformed, what: "metadata 'tokenizer.ggml.tokens'[1]", problem: ["not valid UTF-8"])
    }

    func testDuplicateKey() {
        var b = GGUFBytes()
        b.header(tensors: 0, metadata: 2)
        b.key("general.name", type: GGUFValueType.string.rawValue); b.string("one")
        b.key("general.name", type: GGUFValueType.string.rawValue); b.string("two")
        assertFileRefused(b.bytes, .malformed, what: "metadata 'general.name'", problem: ["appears twice"])
    }

    func testArraysNestedTooDeeply() {
        let bytes = GGUFBytes.oneKey("k.deep", type: .array) { b in
            for _ in 0..<20 { b.u32(GGUFValueType.array.rawValue); b.u64(1) }
            b.u32(GGUFValueType.uint8.rawValue); b.u64(0)
        }
        assertFileRefused(bytes, .malformed, what: "metadata 'k.deep'", problem: ["nested deeper"])
    }

    func testAlignmentThatIsNotAPositivePowerOfTwo() {
        let values: [(GGUFValueType, (inout GGUFBytes) -> Void)] = [
            (.uint32, { $0.u32(48) }), (.uint32, { $0.u32(0) }), (.int32, { $0.u32(UInt32(bitPattern: -32)) }),
            (.string, { $0.string("32") }), (.uint64, { $0.u64(UInt64.max) }),
        ]
        for (type, value) in values {
            assertFileRefused(GGUFBytes.oneKey("general.alignment", type: type, value: value),
                              .malformed, what: "metadata 'general.alignment'", problem: ["power of two"])
        }
    }
}
