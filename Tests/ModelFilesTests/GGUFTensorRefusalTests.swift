// GGUFTensorRefusalTests: crafted files whose tensor infos or data are bad (rank, dimensions, type, block
// size, offset, length, duplicates), each refused naming the file, the tensor and the problem.

import ModelFiles
import ProximaNumerics
import XCTest

final class GGUFTensorRefusalTests: XCTestCase {
    private let scratch = ScratchDirectory()

    private func assertFileRefused(_ bytes: [UInt8], _ kind: RefusalKind, what: String, problem: [String],
                                   line: UInt = #line) {
        let path = scratch.write(bytes, to: "crafted-\(line).gguf")
        assertRefused(try GGUFFile(path: path), path: path, kind, what: what, problem: problem, line: line)
    }

    private let f32 = QuantType.f32.rawValue

    func testTheCraftedBaselineLoads() throws {
        let path = scratch.write(GGUFBytes.oneTensor("t", dims: [32, 2], type: f32, dataBytes: 256), to: "good.gguf")
        let file = try GGUFFile(path: path)
        XCTAssertEqual(file.tensor("t")?.shape, [32, 2])
        XCTAssertEqual(file.tensor("t")?.byteCount, 256)
    }

    // MARK: Ranks and dimensions

    func testZeroAndFiveDimensions() {
        assertFileRefused(GGUFBytes.oneTensor("blk.0.attn_q.weight", dims: [], type: f32, dataBytes: 64),
                          .malformed, what: "tensor 'blk.0.attn_q.weight'", problem: ["0 dimensions"])
        assertFileRefused(GGUFBytes.oneTensor("blk.0.attn_q.weight", dims: [32, 1, 1, 1, 1], type: f32, dataBytes: 128),
                          .malformed, what: "tensor 'blk.0.attn_q.weight'", problem: ["5 dimensions"])
    }

    func testDimensionOfZeroOrAbsurdSize() {
        assertFileRefused(GGUFBytes.oneTensor("output_norm.weight", dims: [32, 0], type: f32, dataBytes: 64),
                          .malformed, what: "tensor 'output_norm.weight'", problem: ["dimension 0"])
        assertFileRefused(GGUFBytes.oneTensor("output_norm.weight", dims: [32, 1 << 62], type: f32, dataBytes: 64),
                          .malformed, what: "tensor 'output_norm.weight'", problem: ["dimension \(UInt64(1) << 62)"])
    }

    func testShapeWhoseByteCountOverflowsIsRefused() {
        let dims: [UInt64] = [1 << 39, 1 << 39, 1 << 39]
        assertFileRefused(GGUFBytes.oneTensor("huge", dims: dims, type: f32, dataBytes: 64),
                          .malformed, what: "tensor 'huge'", problem: ["too large"])
    }

    // MARK: Types

    func testUnsupportedTensorTypesAreNamed() {
        let cases: [(UInt32, String)] = [(9, "Q8_1"), (20, "IQ4_NL"), (23, "IQ4_XS"), (28, "F64"), (200, "type 200")]
        for (code, name) in cases {
            let path = scratch.write(GGUFBytes.oneTensor("blk.3.ffn_down.weight", dims: [256, 2], type: code, dataBytes: 4096),
                                     to: "type-\(code).gguf")
            let error = assertRefused(try GGUFFile(path: path), path: path, .unsupported, what: "tensor 'blk.3.ffn_down.weight'",
                                      problem: [name, QuantType.supportedNames, "Q4_K", "Q6_K"])
            XCTAssertTrue(error?.description.contains("unsupported: tensor type \(name)") ?? false, "\(String(describing: error))")
        }
    }

    func testRowLengthThatIsNotAWholeNumberOfBlocks() {
        for type in [QuantType.q8_0, .q4_0, .q4_1, .q5_0] {
            assertFileRefused(GGUFBytes.oneTensor("token_embd.weight", dims: [48, 2], type: type.rawValue, dataBytes: 256),
                              .malformed, what: "tensor 'token_embd.weight'", problem: ["row length 48", "\(type)", "block size 32"])
        }
        // A K-quant needs whole 256-value super-blocks: rows of 576 (the default model's width) cannot be Q4_K.
        for type in [QuantType.q4_K, .q6_K] {
            assertFileRefused(GGUFBytes.oneTensor("blk.0.attn_k.weight", dims: [576, 2], type: type.rawValue, dataBytes: 4096),
                              .malformed, what: "tensor 'blk.0.attn_k.weight'", problem: ["row length 576", "\(type)", "block size 256"])
        }
    }

    // MARK: Offsets and data

    func testMisalignedOffset() {
        assertFileRefused(GGUFBytes.oneTensor("t", dims: [32], type: f32, offset: 4, dataBytes: 256),
                          .malformed, what: "tensor 't'", problem: ["offset 4", "aligned to 32"])
    }

    func testMisalignedOffsetUnderACustomAlignment() {
        var b = GGUFBytes()
        b.header(tensors: 1, metadata: 1)
        b.key("general.alignment", type: GGUFValueType.uint32.rawValue); b.u32(64)
        b.tensorInfo("t", dims: [32], type: f32, offset: 32)
        b.pad(to: 64)
        b.bytes.append(contentsOf: [UInt8](repeating: 0, count: 256))
        assertFileRefused(b.bytes, .malformed, what: "tensor 't'", problem: ["offset 32", "aligned to 64"])
    }

    func testDataPastTheEndOfTheFile() {
        assertFileRefused(GGUFBytes.oneTensor("blk.0.ffn_up.weight", dims: [32, 4], type: f32, dataBytes: 511),
                          .malformed, what: "tensor 'blk.0.ffn_up.weight'", problem: ["512 bytes", "past the end of the file"])
        assertFileRefused(GGUFBytes.oneTensor("blk.0.ffn_up.weight", dims: [32], type: f32, offset: 1 << 40, dataBytes: 128),
                          .malformed, what: "tensor 'blk.0.ffn_up.weight'", problem: ["past the end of the file"])
    }

    func testSecondTensorPastTheEnd() {
        var b = GGUFBytes()
        b.header(tensors: 2, metadata: 0)
        b.tensorInfo("first", dims: [32], type: f32, offset: 0)
        b.tensorInfo("second", dims: [32], type: f32, offset: 128)
        b.pad()
        b.bytes.append(contentsOf: [UInt8](repeating: 0, count: 200))
        assertFileRefused(b.bytes, .malformed, what: "tensor 'second'", problem: ["past the end of the file"])
    }

    // MARK: Names

    func testDuplicateTensorName() {
        var b = GGUFBytes()
        b.header(tensors: 2, metadata: 0)
        b.tensorInfo("blk.0.attn_k.weight", dims: [32], type: f32, offset: 0)
        b.tensorInfo("blk.0.attn_k.weight", dims: [32], type: f32, offset: 128)
        b.pad()
        b.bytes.append(contentsOf: [UInt8](repeating: 0, count: 256))
        assertFileRefused(b.bytes, .malformed, what: "tensor 'blk.0.attn_k.weight'", problem: ["appears twice"])
    }

    func testTensorNameThatIsNotUTF8() {
        var b = GGUFBytes()
        b.header(tensors: 1, metadata: 0)
        b.string([0x74, 0x80])
        b.u32(1); b.u64(32); b.u32(f32); b.u64(0)
        b.pad()
        b.bytes.append(contentsOf: [UInt8](repeating: 0, count: 128))
        assertFileRefused(b.bytes, .malformed, what: "tensor #0 name", problem: ["not valid UTF-8"])
    }
}
