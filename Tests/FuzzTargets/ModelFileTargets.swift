// The model-file targets: a GGUF file loaded as a model (header, metadata, tensor infos, weights, tokenizer,
// chat template, then a prompt tokenized and rendered), and safetensors adapters (the container, then PEFT's
// adapter layout for a tiny model).

import Foundation
import Inference
import Learning
import Llama
import ModelFiles
import ProximaCore
import ProximaNumerics
import TestModels

/// GGUF, loaded as a model the way `proxima serve --model` loads one.
public struct GGUFTarget: FuzzTarget {
    public let name = "gguf"
    public let maxSize = 1 << 17
    public init() {}

    /// A one-layer model (rows of 32, the quantised types' block) small enough that mutations land in the
    /// header and metadata about as often as in the weights.
    static let config = LlamaConfig(layerCount: 1, dim: 32, ffnDim: 64, headCount: 2, kvHeadCount: 1, headDim: 16,
                                    vocabSize: 259, contextLength: 64, ropeBase: 10_000, normEps: 1e-5)

    public func seeds() throws -> [[UInt8]] {
        [([QuantType.f32], QuantType.f32), ([.q8_0, .q4_0], .f16), ([.q4_1], .bf16)].map { types, embedding in
            var file = TinyLlamaFile(config: Self.config, matrixTypes: types, embeddingType: embedding, seed: 3)
            TinyChatModel.addTokenizer(to: &file)
            return file.writer().bytes()
        }
    }

    public var dictionary: [[UInt8]] {
        ["GGUF", "general.architecture", "llama", "llama.block_count", "llama.embedding_length", "llama.context_length",
         "llama.attention.head_count", "llama.attention.head_count_kv", "llama.rope.freq_base", "general.alignment",
         "tokenizer.ggml.tokens", "tokenizer.ggml.merges", "tokenizer.ggml.pre", "tokenizer.chat_template",
         "token_embd.weight", "blk.0.attn_q.weight", "output_norm.weight"].map { Array($0.utf8) }
    }

    public func session(_ drive: @Sendable (@Sendable ([UInt8]) async throws -> FuzzOutcome) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-fuzz-\(getpid()).gguf").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try await drive { input in
            guard FileManager.default.createFile(atPath: path, contents: Data(input)) else { throw FuzzFinding("cannot write \(path)") }
            let model: ModelBundle
            do { model = try ModelBundle(path: path, pool: nil) } catch { return .refused }
            do {
                _ = try model.promptTokens(for: [ChatMessage(role: "system", content: "Be brief."), ChatMessage(role: "user", content: "Hi <|im_end|> there")])
            } catch { return .refused }
            return .accepted
        }
    }
}

/// Safetensors, as an adapter brought from PEFT is read: the container, then the adapter for a tiny model.
public struct SafetensorsTarget: FuzzTarget {
    public let name = "safetensors"
    public let maxSize = 1 << 16

    public init() {}

    static let config = LlamaConfig(layerCount: 2, dim: 8, ffnDim: 16, headCount: 2, kvHeadCount: 1, headDim: 4,
                                    vocabSize: 32, contextLength: 64, ropeBase: 10_000, normEps: 1e-5)
    static let adapterConfig = Array(#"{"r": 2, "lora_alpha": 4, "target_modules": ["q_proj", "v_proj"], "peft_type": "LORA"}"#.utf8)

    public func seeds() throws -> [[UInt8]] {
        let layout = LoRALayout(model: Self.config, lora: LoRAConfiguration(rank: 2, alpha: 4, targets: [.query, .value]))
        let member = LoRATensors(layout: layout)
        for i in 0..<layout.count { member.storage.pointer[i] = Float(i % 11) * 0.01 }
        return [PEFTAdapter.export(members: [member], baseModel: "tiny").safetensors,
                Safetensors.encode([NamedTensor(name: "a", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), NamedTensor(name: "b", shape: [1], values: [7])],
                                   metadata: ["format": "pt"])]
    }

    public var dictionary: [[UInt8]] {
        ["\"dtype\"", "\"F32\"", "\"F16\"", "\"BF16\"", "\"shape\"", "\"data_offsets\"", "\"__metadata__\"", "[", "]", "{", "}", ",",
         "base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight", "lora_B"].map { Array($0.utf8) }
    }

    public func session(_ drive: @Sendable (@Sendable ([UInt8]) async throws -> FuzzOutcome) async throws -> Void) async throws {
        try await drive { input in
            let decoded: [NamedTensor]
            do { decoded = try Safetensors.decode(input, path: "fuzz.safetensors").tensors } catch { return .refused }
            // What decodes must encode and decode to the same tensors.
            let again = try Safetensors.decode(Safetensors.encode(decoded), path: "re-encoded")
            guard again.tensors.map(\.name) == decoded.map(\.name), again.tensors.map(\.shape) == decoded.map(\.shape) else {
                throw FuzzFinding("decoded tensors do not survive a re-encoding")
            }
            do { _ = try PEFTAdapter.load(safetensors: input, config: Self.adapterConfig, model: Self.config, path: "fuzz") } catch { return .refused }
            return .accepted
        }
    }
}
