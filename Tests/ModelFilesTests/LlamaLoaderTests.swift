// LlamaLoaderTests: LlamaConfig(gguf:) and LlamaWeights(gguf:pool:) on tiny Llama files written by the
// test: what loads (every tensor type, tied or separate head), and what is refused, naming key or tensor.

import Foundation
import Llama
import ModelFiles
import ProximaNumerics
import TestModels
import XCTest

final class LlamaLoaderTests: XCTestCase {
    private let scratch = ScratchDirectory()

    private func write(_ model: TinyLlamaFile, alignment: Int = 32, line: UInt = #line) throws -> String {
        let path = scratch.path("tiny-\(line)-\(UUID()).gguf")
        try model.write(to: path, alignment: alignment)
        return path
    }

    private func load(_ model: TinyLlamaFile, alignment: Int = 32) throws -> LlamaWeights {
        try LlamaWeights(gguf: GGUFFile(path: write(model, alignment: alignment)), pool: nil)
    }

    /// Asserts that both the configuration and the weights refuse the file the same way.
    private func assertModelRefused(_ model: TinyLlamaFile, _ kind: RefusalKind, what: String, problem: [String] = [],
                                    configToo: Bool = true, line: UInt = #line) throws {
        let path = try write(model, line: line)
        let file = try GGUFFile(path: path)
        if configToo {
            assertRefused(try LlamaConfig(gguf: file), path: path, kind, what: what, problem: problem, line: line)
        }
        assertRefused(try LlamaWeights(gguf: file, pool: nil), path: path, kind, what: what, problem: problem, line: line)
    }

    /// Every value of `weight` equals the reference decoding of the bytes the file holds for `name`.
    private func assertHolds(_ weight: LinearWeight, _ name: String, of model: TinyLlamaFile, line: UInt = #line) {
        let t = model.tensor(name)!
        XCTAssertEqual([weight.cols, weight.rows], t.shape, name, line: line)
        XCTAssertEqual(weight.type, t.type, name, line: line)
        let dense = Array(UnsafeBufferPointer(start: weight.dense, count: weight.rows * weight.cols))
        XCTAssertEqual(dense, referenceValues(t.type, t.bytes), "\(name) (\(t.type)) dequantised differently", line: line)
    }

    private func assertHolds(_ weights: LlamaWeights, of model: TinyLlamaFile, line: UInt = #line) {
        for (i, layer) in weights.layers.enumerated() {
            let p = "blk.\(i)."
            let names = ["attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"]
            for ((_, weight), name) in zip(layer.linears, names) { assertHolds(weight, p + name + ".weight", of: model, line: line) }
            XCTAssertEqual(layer.attentionNorm.array, referenceValues(.f32, model.tensor(p + "attn_norm.weight")!.bytes), line: line)
            XCTAssertEqual(layer.ffnNorm.array, referenceValues(.f32, model.tensor(p + "ffn_norm.weight")!.bytes), line: line)
        }
        assertHolds(weights.tokenEmbedding, "token_embd.weight", of: model, line: line)
        XCTAssertEqual(weights.outputNorm.array, referenceValues(.f32, model.tensor("output_norm.weight")!.bytes), line: line)
    }

    // MARK: Loading

    func testTinyModelLoadsWithItsConfigAndValues() throws {
        let model = TinyLlamaFile()
        let weights = try load(model)
        XCTAssertEqual(weights.config, TinyLlamaFile.defaultConfig)
        XCTAssertEqual(weights.layers.count, 2)
        XCTAssertEqual(Set(model.tensors.map(\.type)), [.f32, .q8_0, .q4_1])
        assertHolds(weights, of: model)
    }

    func testEveryTensorTypeLoads() throws {
        // Rows of 256 and 512 values: whole super-blocks of the K-quants.
        let config = LlamaConfig(layerCount: 2, dim: 256, ffnDim: 512, headCount: 4, kvHeadCount: 2, headDim: 64, vocabSize: 96,
                                 contextLength: 128, ropeBase: 10_000, normEps: 1e-5)
        for (i, embeddingType) in QuantType.allCases.enumerated() {
            let rotated = Array(QuantType.allCases[i...] + QuantType.allCases[..<i])
            let model = TinyLlamaFile(config: config, matrixTypes: rotated, embeddingType: embeddingType, seed: UInt64(10 + i))
            assertHolds(try load(model), of: model)
        }
    }

    func testAnotherAlignmentLoads() throws {
        let model = TinyLlamaFile(seed: 4)
        assertHolds(try load(model, alignment: 64), of: model)
    }

    func testOutputHeadIsTiedWithoutOutputWeight() throws {
        let weights = try load(TinyLlamaFile())
        XCTAssertEqual(weights.outputHead.dense, weights.tokenEmbedding.dense)
    }

    func testSeparateOutputHeadIsLoaded() throws {
        let model = TinyLlamaFile(separateOutputHead: true)
        let weights = try load(model)
        XCTAssertNotEqual(weights.outputHead.dense, weights.tokenEmbedding.dense)
        assertHolds(weights.outputHead, "output.weight", of: model)
    }

    func testOptionalKeysTakeTheirDefaults() throws {
        var config = TinyLlamaFile.defaultConfig
        config.ropeBase = 500_000
        var model = TinyLlamaFile(config: config)
        for key in ["llama.vocab_size", "llama.rope.dimension_count", "llama.rope.freq_base"] { model.setMetadata(key, nil) }
        model.setMetadata("llama.rope.scaling.type", .string("none"))
        config.ropeBase = 10_000
        XCTAssertEqual(try LlamaConfig(gguf: GGUFFile(path: write(model))), config)

        model.setMetadata("llama.attention.head_count_kv", nil)
        config.kvHeadCount = config.headCount
        XCTAssertEqual(try LlamaConfig(gguf: GGUFFile(path: write(model))), config)
        try assertModelRefused(model, .malformed, what: "tensor 'blk.0.attn_k.weight'",
                               problem: ["shape [64, 32]", "expected [64, 64]"], configToo: false)
    }

    // MARK: Refusals: metadata

    func testWrongArchitectureIsRefusedNamingKeyAndValue() throws {
        var model = TinyLlamaFile()
        model.setMetadata("general.architecture", .string("gptj"))
        try assertModelRefused(model, .unsupported, what: "metadata 'general.architecture'", problem: ["'gptj'", "llama, qwen2, qwen3"])
    }

    func testEachMissingRequiredKeyIsNamed() throws {
        let required = ["general.architecture", "llama.block_count", "llama.context_length", "llama.embedding_length",
                        "llama.feed_forward_length", "llama.attention.head_count", "llama.attention.layer_norm_rms_epsilon"]
        for key in required {
            var model = TinyLlamaFile()
            model.setMetadata(key, nil)
            try assertModelRefused(model, .missing, what: "metadata key '\(key)'")
        }
    }

    func testKeyOfTheWrongTypeIsNamed() throws {
        var model = TinyLlamaFile()
        model.setMetadata("llama.block_count", .string("2"))
        try assertModelRefused(model, .malformed, what: "metadata 'llama.block_count'", problem: ["integer", "string"])
        model = TinyLlamaFile()
        model.setMetadata("llama.attention.layer_norm_rms_epsilon", .bool(true))
        try assertModelRefused(model, .malformed, what: "metadata 'llama.attention.layer_norm_rms_epsilon'", problem: ["number"])
    }

    /// An optional key present with the wrong type is refused, not silently replaced by its default.
    func testOptionalKeyOfTheWrongTypeIsNamed() throws {
        let cases: [(String, GGUFValue, String)] = [
            ("llama.rope.freq_base", .string("500000"), "number"),
            ("llama.attention.head_count_kv", .array(.int32, [.int32(2), .int32(2)]), "integer"),
            ("llama.rope.dimension_count", .float32(16), "integer"),
            ("llama.vocab_size", .bool(true), "integer"),
            ("llama.rope.scaling.type", .uint8(1), "string"),
        ]
        for (key, value, expected) in cases {
            var model = TinyLlamaFile()
            model.setMetadata(key, value)
            try assertModelRefused(model, .malformed, what: "metadata '\(key)'", problem: ["expected a", expected])
        }
    }

    func testInconsistentHyperParametersAreRefused() throws {
        let cases: [(String, GGUFValue, String)] = [
            ("llama.attention.head_count", .uint32(3), "head count 3 × head dim 16 ≠ embedding width 64"),
            ("llama.rope.dimension_count", .uint32(32), "head count 4 × head dim 32 ≠ embedding width 64"),
            ("llama.attention.head_count_kv", .uint32(3), "not a multiple of the KV head count 3"),
            ("llama.block_count", .uint32(0), "positive"),
            ("llama.feed_forward_length", .int32(-128), "positive"),
            ("llama.attention.layer_norm_rms_epsilon", .float32(0), "norm epsilon must be positive"),
        ]
        for (key, value, problem) in cases {
            var model = TinyLlamaFile()
            model.setMetadata(key, value)
            try assertModelRefused(model, .malformed, what: "model hyper-parameters", problem: [problem])
        }
    }

    func testHugeHyperParametersAreRefusedWithoutOverflow() throws {
        var model = TinyLlamaFile()
        model.setMetadata("llama.attention.head_count", .uint64(1 << 62))
        model.setMetadata("llama.attention.head_count_kv", .uint64(1 << 62))
        model.setMetadata("llama.rope.dimension_count", .uint64(1 << 4))
        try assertModelRefused(model, .malformed, what: "model hyper-parameters", problem: ["embedding width 64"])

        // (2^60 + 4) × 16 wraps around to exactly 64 in 64-bit arithmetic.
        let wrapping = UInt64(1) << 60 + 4
        model.setMetadata("llama.attention.head_count", .uint64(wrapping))
        model.setMetadata("llama.attention.head_count_kv", .uint64(wrapping))
        try assertModelRefused(model, .malformed, what: "model hyper-parameters", problem: ["head count \(wrapping) × head dim 16"])
    }

    func testRopeScalingOtherThanLlama3FactorsIsRefused() throws {
        var model = TinyLlamaFile()
        model.setMetadata("llama.rope.scaling.type", .string("linear"))
        model.setMetadata("llama.rope.scaling.factor", .float32(4))
        try assertModelRefused(model, .unsupported, what: "metadata 'llama.rope.scaling.type'", problem: ["RoPE scaling 'linear'"])

        // Llama 3.1's frequency factors load (FamilyGoldenTests runs them); malformed ones are refused.
        let factors: [Float] = [1, 1, 1.5, 2, 3, 4, 4, 4]
        model = TinyLlamaFile()
        model.put(TinyLlamaFile.Tensor(name: "rope_freqs.weight", shape: [8], type: .f32, bytes: factors.withUnsafeBytes { Array($0) }))
        XCTAssertEqual(try LlamaConfig(gguf: GGUFFile(path: write(model))).ropeFactors, factors)
        model.put(TinyLlamaFile.Tensor(name: "rope_freqs.weight", shape: [8], type: .f32, bytes: ([0] + factors.dropFirst()).withUnsafeBytes { Array($0) }))
        try assertModelRefused(model, .malformed, what: "model hyper-parameters", problem: ["RoPE frequency factors", "positive"])
        model.setTensor("rope_freqs.weight", shape: [4], type: .f32)
        try assertModelRefused(model, .malformed, what: "tensor 'rope_freqs.weight'", problem: ["expected F32 [8]"])
    }

    // MARK: Refusals: tensors

    func testEachMissingTensorIsNamed() throws {
        for name in ["token_embd.weight", "output_norm.weight", "blk.0.attn_norm.weight", "blk.1.ffn_up.weight", "blk.1.attn_v.weight"] {
            var model = TinyLlamaFile()
            model.removeTensor(name)
            try assertModelRefused(model, .missing, what: "tensor '\(name)'", configToo: name == "token_embd.weight")
        }
    }

    func testWrongTensorShapeIsNamedWithActualAndExpectedShapes() throws {
        let cases: [(String, [Int], [Int])] = [
            ("blk.0.attn_k.weight", [64, 64], [64, 32]),
            ("blk.1.ffn_down.weight", [64, 128], [128, 64]),
            ("blk.0.ffn_norm.weight", [32], [64]),
            ("output.weight", [64, 64], [64, 96]),
            ("token_embd.weight", [32, 96], [64, 96]),
        ]
        for (name, shape, expected) in cases {
            var model = TinyLlamaFile()
            model.setTensor(name, shape: shape, type: .f32)
            try assertModelRefused(model, .malformed, what: "tensor '\(name)'",
                                   problem: ["shape \(shape)", "expected \(expected)"], configToo: false)
        }
    }

    func testVocabularySizeThatDisagreesWithTheEmbeddingIsRefused() throws {
        var model = TinyLlamaFile()
        model.setMetadata("llama.vocab_size", .uint32(100))
        try assertModelRefused(model, .malformed, what: "tensor 'token_embd.weight'",
                               problem: ["shape [64, 96]", "expected [64, 100]"], configToo: false)
    }
}
