// TinyChatModel: a complete chat model file in miniature for the in-process service tests — a TinyLlamaFile
// (2 layers, width 64, F32 and Q8_0 weights) with a byte-level BPE vocabulary (the 256 byte tokens plus
// <|endoftext|>, <|im_start|>, <|im_end|>) and a ChatML template, so that everything the service does with
// the real model (chat, pairs, training, the gate, swaps) runs in milliseconds.

import Foundation
import Llama
import ModelFiles

public enum TinyChatModel {
    /// The model's shape: TinyLlamaFile's, with a vocabulary of the 256 bytes and three control tokens.
    public static let config = LlamaConfig(layerCount: 2, dim: 64, ffnDim: 128, headCount: 4, kvHeadCount: 2, headDim: 16,
                                           vocabSize: 259, contextLength: 512, ropeBase: 10_000, normEps: 1e-5)

    public static let template = """
        {% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}\
        {% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}
        """

    /// Writes the model to `path` (the same bytes for the same seed).
    public static func write(to path: String, seed: UInt64 = 7) throws {
        var file = TinyLlamaFile(config: config, matrixTypes: [.f32, .q8_0], embeddingType: .f32, seed: seed)
        addTokenizer(to: &file)
        try file.write(to: path)
    }

    /// The tokenizer and chat template metadata (a model with a vocabulary of 259).
    public static func addTokenizer(to file: inout TinyLlamaFile) {
        let bytes = byteSpellings
        let specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
        file.setMetadata("tokenizer.ggml.model", .string("gpt2"))
        file.setMetadata("tokenizer.ggml.pre", .string("smollm"))
        file.setMetadata("tokenizer.ggml.tokens", .array(.string, (bytes + specials).map { .string($0) }))
        file.setMetadata("tokenizer.ggml.token_type", .array(.int32, bytes.map { _ in .int32(1) } + specials.map { _ in .int32(3) }))
        file.setMetadata("tokenizer.ggml.merges", .array(.string, []))
        file.setMetadata("tokenizer.ggml.bos_token_id", .uint32(256))
        file.setMetadata("tokenizer.ggml.eos_token_id", .uint32(258))
        file.setMetadata("tokenizer.chat_template", .string(template))
    }

    /// The GPT-2 byte-level spellings of the 256 bytes, in byte order (printable bytes as themselves, the others
    /// from U+0100 upwards).
    public static let byteSpellings: [String] = {
        let printable = Set(Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF))
        var shifted: UInt32 = 256
        return (0...255).map { byte in
            if printable.contains(byte) { return String(UnicodeScalar(UInt8(byte))) }
            defer { shifted += 1 }
            return String(UnicodeScalar(shifted)!)
        }
    }()
}
