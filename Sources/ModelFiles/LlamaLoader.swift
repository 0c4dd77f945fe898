// LlamaLoader: builds LlamaConfig and LlamaWeights from a GGUF file, checking architecture, every tensor's
// presence, shape and type; weights point into the file's memory map plus an fp32 copy of each matrix.

import Llama
import ProximaNumerics

extension LlamaConfig {
    /// Reads the configuration from GGUF metadata (`general.architecture` must be `llama`).
    public init(gguf f: GGUFFile) throws(ModelFileError) {
        let arch = try f.requiredString("general.architecture")
        guard arch == "llama" else {
            throw .unsupported(path: f.path, what: "metadata 'general.architecture'", problem: "'\(arch)' (Proxima runs Llama-architecture models)")
        }
        if let scaling = try f.optionalString("llama.rope.scaling.type"), scaling != "none" {
            throw .unsupported(path: f.path, what: "metadata 'llama.rope.scaling.type'", problem: "RoPE scaling '\(scaling)'")
        }
        if f.tensor("rope_freqs.weight") != nil {
            throw .unsupported(path: f.path, what: "tensor 'rope_freqs.weight'", problem: "RoPE frequency factors (Llama 3.1 scaling)")
        }
        let dim = try f.requiredInt("llama.embedding_length")
        let heads = try f.requiredInt("llama.attention.head_count")
        guard let embedding = f.tensor("token_embd.weight") else { throw .missing(path: f.path, what: "tensor 'token_embd.weight'") }
        let vocab = try f.optionalInt("llama.vocab_size") ?? embedding.shape.last!
        self.init(layerCount: try f.requiredInt("llama.block_count"),
                  dim: dim,
                  ffnDim: try f.requiredInt("llama.feed_forward_length"),
                  headCount: heads,
                  kvHeadCount: try f.optionalInt("llama.attention.head_count_kv") ?? heads,
                  headDim: try f.optionalInt("llama.rope.dimension_count") ?? (heads > 0 ? dim / heads : 0),
                  vocabSize: vocab,
                  contextLength: try f.requiredInt("llama.context_length"),
                  ropeBase: Float(try f.optionalDouble("llama.rope.freq_base") ?? 10_000),
                  normEps: Float(try f.requiredDouble("llama.attention.layer_norm_rms_epsilon")))
        if let problem = inconsistency {
            throw .malformed(path: f.path, what: "model hyper-parameters", problem: problem)
        }
    }
}

extension LlamaWeights {
    /// Loads every tensor of a Llama model from `file`: each matrix is repacked in its quantisation for
    /// decode and dequantised once to fp32 on `pool`.
    public convenience init(gguf f: GGUFFile, pool: ComputePool?) throws(ModelFileError) {
        let c = try LlamaConfig(gguf: f)

        func tensor(_ name: String, _ cols: Int, _ rows: Int) throws(ModelFileError) -> GGUFTensor {
            guard let t = f.tensor(name) else { throw .missing(path: f.path, what: "tensor '\(name)'") }
            let expected = rows == 1 ? [cols] : [cols, rows]
            guard t.shape == expected else {
                throw .malformed(path: f.path, what: "tensor '\(name)'", problem: "shape \(t.shape), expected \(expected)")
            }
            return t
        }
        func linear(_ name: String, out: Int, in cols: Int) throws(ModelFileError) -> LinearWeight {
            let t = try tensor(name, cols, out)
            return LinearWeight(rows: out, cols: cols, type: t.type, bytes: f.data(of: t), pool: pool)
        }
        func vector(_ name: String, _ n: Int) throws(ModelFileError) -> FloatBuffer {
            let t = try tensor(name, n, 1)
            let b = FloatBuffer(count: n)
            dequantize(t.type, from: f.data(of: t), count: n, into: b.pointer)
            return b
        }

        var layers: [LlamaLayerWeights] = []
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            layers.append(LlamaLayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight", c.dim),
                query: try linear(p + "attn_q.weight", out: c.dim, in: c.dim),
                key: try linear(p + "attn_k.weight", out: c.kvDim, in: c.dim),
                value: try linear(p + "attn_v.weight", out: c.kvDim, in: c.dim),
                output: try linear(p + "attn_output.weight", out: c.dim, in: c.dim),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim),
                gate: try linear(p + "ffn_gate.weight", out: c.ffnDim, in: c.dim),
                up: try linear(p + "ffn_up.weight", out: c.ffnDim, in: c.dim),
                down: try linear(p + "ffn_down.weight", out: c.dim, in: c.ffnDim)))
        }
        let embedding = try linear("token_embd.weight", out: c.vocabSize, in: c.dim)
        let head = f.tensor("output.weight") == nil ? embedding : try linear("output.weight", out: c.vocabSize, in: c.dim)
        self.init(config: c, tokenEmbedding: embedding, layers: layers,
                  outputNorm: try vector("output_norm.weight", c.dim), outputHead: head)
    }
}
