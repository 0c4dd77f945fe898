// DefaultModelFileTests: the real default model (SmolLM2-135M-Instruct Q4_1) against the golden gguf-python
// dump: metadata, every tensor's shape and type, data layout, config, and values decoded from raw bytes.

import Foundation
import Llama
import ModelFiles
import ProximaNumerics
import TestSupport
import XCTest

final class DefaultModelFileTests: XCTestCase {
    /// The configuration the model card and the golden dump give.
    static let expectedConfig = LlamaConfig(layerCount: 30, dim: 576, ffnDim: 1536, headCount: 9, kvHeadCount: 3,
                                            headDim: 64, vocabSize: 49152, contextLength: 8192,
                                            ropeBase: 100_000, normEps: 1e-5)

    private func openModel() throws -> GGUFFile { try GGUFFile(path: TestPaths.defaultModel()) }

    /// `count` bytes of the file at `offset`, read with FileHandle rather than through the reader's map.
    private func rawBytes(_ path: String, at offset: Int, count: Int) throws -> [UInt8] {
        let handle = try XCTUnwrap(FileHandle(forReadingAtPath: path))
        defer { try? handle.close() }
        try handle.seek(toOffset: UInt64(offset))
        return Array(try handle.read(upToCount: count) ?? Data())
    }

    // MARK: Metadata and tensors against the golden dump

    func testMetadataMatchesTheGoldenDump() throws {
        let file = try openModel()
        let golden = try GoldenDump()
        XCTAssertEqual(file.version, 3)
        XCTAssertEqual(file.alignment, 32)
        XCTAssertEqual(file.metadata.map(\.key), golden.metadata.map(\.key), "keys or their order differ")
        for (key, printed) in golden.metadata {
            guard let value = file[key] else { continue }
            switch value {
            case let .string(s) where printed != "<see below>": XCTAssertEqual(s, printed, key)
            case let .bool(b): XCTAssertEqual(b ? "True" : "False", printed, key)
            case .float32, .float64: XCTAssertEqual(value.double, Double(printed), key)
            case let .array(type, items):
                XCTAssertTrue(printed.hasPrefix("ARRAY[\("\(type)".uppercased())] len=\(items.count) "), "\(key): \(printed)")
            default:
                if let i = value.int { XCTAssertEqual(String(i), printed, key) }
            }
        }
        XCTAssertEqual(try file.requiredStringArray("tokenizer.ggml.tokens").prefix(3), ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    }

    func testEveryTensorMatchesTheGoldenList() throws {
        let file = try openModel()
        let golden = try GoldenDump()
        XCTAssertEqual(golden.tensors.count, 272)
        XCTAssertEqual(golden.tensorCount, 272)
        XCTAssertEqual(file.tensors.count, golden.tensors.count)
        XCTAssertEqual(Set(file.tensors.map(\.name)), Set(golden.tensors.map(\.name)))
        for g in golden.tensors {
            guard let t = file.tensor(g.name) else { XCTFail("\(g.name) missing"); continue }
            XCTAssertEqual(t.shape, g.shape, g.name)
            XCTAssertEqual(t.type.description, g.type, g.name)
            XCTAssertEqual(t.elementCount, g.elementCount, g.name)
            XCTAssertEqual(t.byteCount, g.byteCount, g.name)
        }
        XCTAssertEqual(file.tensors.map(\.byteCount).reduce(0, +), golden.totalTensorBytes)
    }

    /// The tensors lie one after another in the data section, each aligned, the last ending the file.
    func testTensorDataTilesTheDataSection() throws {
        let file = try openModel()
        let byOffset = file.tensors.sorted { $0.fileOffset < $1.fileOffset }
        var end = byOffset[0].fileOffset
        for t in byOffset {
            XCTAssertEqual(t.fileOffset % file.alignment, 0, t.name)
            XCTAssertEqual(t.fileOffset, (end + file.alignment - 1) / file.alignment * file.alignment, t.name)
            end = t.fileOffset + t.byteCount
        }
        XCTAssertEqual(end, file.map.size)
    }

    // MARK: Configuration and values

    func testConfigOfTheDefaultModel() throws {
        let config = try LlamaConfig(gguf: openModel())
        XCTAssertEqual(config, Self.expectedConfig)
        XCTAssertEqual(config.kvDim, 192)
        XCTAssertNil(config.inconsistency)
    }

    /// Blocks `blocks` of tensor `name` (negative: from the end) decoded by the library and by the formulas
    /// from bytes read past the map; for F32 a "block" is the 32 values from that index on.
    private func assertBlocksDecode(_ name: String, _ type: QuantType, blocks: [Int], in file: GGUFFile,
                                    line: UInt = #line) throws {
        let t = try XCTUnwrap(file.tensor(name), line: line)
        XCTAssertEqual(t.type, type, line: line)
        let blockCount = t.elementCount / type.blockSize
        for block in blocks.map({ $0 < 0 ? blockCount + $0 : $0 }) {
            let values = max(32, type.blockSize)
            let byteOffset = block * type.blockBytes
            let raw = try rawBytes(file.path, at: t.fileOffset + byteOffset, count: type.byteCount(values: values)!)
            var decoded = [Float](repeating: .nan, count: values)
            dequantize(type, from: file.data(of: t) + byteOffset, count: values, into: &decoded)
            let expected = referenceValues(type, raw)
            XCTAssertEqual(decoded, expected, "\(name) block \(block)", line: line)
            XCTAssertTrue(expected.allSatisfy(\.isFinite), line: line)
            XCTAssertTrue(expected.contains { $0 != 0 }, "\(name) block \(block) is all zero", line: line)
        }
    }

    func testValuesDecodeByTheFormatFormulas() throws {
        let file = try openModel()
        try assertBlocksDecode("blk.0.ffn_down.weight", .q4_1, blocks: [0, 1, 1000, -1], in: file)
        try assertBlocksDecode("blk.29.attn_q.weight", .q4_1, blocks: [0, -1], in: file)
        try assertBlocksDecode("token_embd.weight", .q8_0, blocks: [0, 18, 500_000, -1], in: file)
        try assertBlocksDecode("blk.0.attn_norm.weight", .f32, blocks: [0, 544], in: file)
        try assertBlocksDecode("output_norm.weight", .f32, blocks: [0, 544], in: file)
    }

    /// The whole model: config, tied head, and a few rows of the fp32 copies against the raw bytes.
    func testWeightsOfTheDefaultModelLoad() throws {
        let file = try openModel()
        let weights = try LlamaWeights(gguf: file, pool: nil)
        XCTAssertEqual(weights.config, Self.expectedConfig)
        XCTAssertEqual(weights.layers.count, 30)
        XCTAssertNil(file.tensor("output.weight"))
        XCTAssertEqual(weights.outputHead.dense, weights.tokenEmbedding.dense, "the head should be tied")

        func assertRow(_ weight: LinearWeight, _ name: String, row: Int, line: UInt = #line) throws {
            let t = try XCTUnwrap(file.tensor(name), line: line)
            let rowBytes = t.type.byteCount(values: t.shape[0])!
            let raw = try rawBytes(file.path, at: t.fileOffset + row * rowBytes, count: rowBytes)
            let dense = Array(UnsafeBufferPointer(start: weight.dense + row * weight.cols, count: weight.cols))
            XCTAssertEqual(dense, referenceValues(t.type, raw), "\(name) row \(row)", line: line)
        }
        try assertRow(weights.tokenEmbedding, "token_embd.weight", row: 0)
        try assertRow(weights.tokenEmbedding, "token_embd.weight", row: 49151)
        try assertRow(weights.layers[0].down, "blk.0.ffn_down.weight", row: 0)
        try assertRow(weights.layers[29].key, "blk.29.attn_k.weight", row: 191)
        let norm = try XCTUnwrap(file.tensor("blk.7.ffn_norm.weight"))
        XCTAssertEqual(weights.layers[7].ffnNorm.array, referenceValues(.f32, try rawBytes(file.path, at: norm.fileOffset, count: norm.byteCount)))
    }
}
