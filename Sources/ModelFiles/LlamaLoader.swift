// LlamaLoader: builds LlamaConfig and LlamaWeights from a GGUF file, checking architecture, every tensor's
// presence, shape and type; weights point into the file's memory map plus an fp32 copy of each matrix.
//
// Qwen2 and Qwen3 rotate the pairs (i, i + d/2) of each head (GGUF keeps their q and k rows in Hugging Face
// order), Llama the pairs (2i, 2i + 1) (its conversion permutes q and k rows so). The loader permutes Qwen's q
// and k rows — and their biases and head-norm weights — into Llama's order, so one RoPE serves all: q·k is
// unchanged when both are permuted alike within each head. Adapters see every model in Llama's order.

import Llama
import ProximaNumerics

extension LlamaConfig {
    /// Reads the configuration from GGUF metadata (`general.architecture` one of `ModelArchitecture`'s, its
    /// keys under that prefix as llama.cpp names them).
    public init(gguf f: GGUFFile) throws(ModelFileError) {
        let name = try f.requiredString("general.architecture")
        guard let arch = ModelArchitecture(rawValue: name) else {
            throw .unsupported(path: f.path, what: "metadata 'general.architecture'",
                               problem: "'\(name)' (Proxima runs \(ModelArchitecture.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let key = { (suffix: String) in "\(name).\(suffix)" }
        if let scaling = try f.optionalString(key("rope.scaling.type")), scaling != "none" {
            throw .unsupported(path: f.path, what: "metadata '\(key("rope.scaling.type"))'", problem: "RoPE scaling '\(scaling)'")
        }
        let dim = try f.requiredInt(key("embedding_length"))
        let heads = try f.requiredInt(key("attention.head_count"))
        var headDim = heads > 0 ? dim / heads : 0
        if let width = try f.optionalInt(key("attention.key_length")) { headDim = width }
        else if let width = try f.optionalInt(key("rope.dimension_count")) { headDim = width }
        for other in ["attention.value_length", "rope.dimension_count"] {
            if let width = try f.optionalInt(key(other)), width != headDim {
                throw .unsupported(path: f.path, what: "metadata '\(key(other))'", problem: "\(width) ≠ the head dim \(headDim)")
            }
        }
        guard let embedding = f.tensor("token_embd.weight") else { throw .missing(path: f.path, what: "tensor 'token_embd.weight'") }
        var factors: [Float]?
        if let t = f.tensor("rope_freqs.weight") {
            guard t.shape == [headDim / 2], t.type == .f32 else {
                throw .malformed(path: f.path, what: "tensor 'rope_freqs.weight'", problem: "\(t.type) \(t.shape), expected F32 [\(headDim / 2)]")
            }
            let values = f.data(of: t).assumingMemoryBound(to: Float.self)
            factors = Array(UnsafeBufferPointer(start: values, count: headDim / 2))
        }
        self.init(architecture: arch,
                  layerCount: try f.requiredInt(key("block_count")),
                  dim: dim,
                  ffnDim: try f.requiredInt(key("feed_forward_length")),
                  headCount: heads,
                  kvHeadCount: try f.optionalInt(key("attention.head_count_kv")) ?? heads,
                  headDim: headDim,
                  vocabSize: try f.optionalInt(key("vocab_size")) ?? embedding.shape.last!,
                  contextLength: try f.requiredInt(key("context_length")),
                  ropeBase: Float(try f.optionalDouble(key("rope.freq_base")) ?? 10_000),
                  normEps: Float(try f.requiredDouble(key("attention.layer_norm_rms_epsilon"))),
                  ropeFactors: factors)
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
        // Qwen's q and k rows (and the vectors along them) go to Llama's pair order (see the top of the file).
        let permute = c.architecture != .llama
        func linear(_ name: String, out: Int, in cols: Int, rotated: Bool = false) throws(ModelFileError) -> LinearWeight {
            let t = try tensor(name, cols, out)
            guard rotated && permute else { return LinearWeight(rows: out, cols: cols, type: t.type, bytes: f.data(of: t), pool: pool) }
            let rowBytes = t.type.byteCount(values: cols)!
            let source = f.data(of: t)
            let rows = UnsafeMutableRawPointer.allocate(byteCount: out * rowBytes, alignment: 64)
            defer { rows.deallocate() }
            for row in 0..<out {
                let to = RotaryOrder.llamaRow(ofHFRow: row, headDim: c.headDim)
                (rows + to * rowBytes).copyMemory(from: source + row * rowBytes, byteCount: rowBytes)
            }
            return LinearWeight(rows: out, cols: cols, type: t.type, bytes: rows, pool: pool)
        }
        func vector(_ name: String, _ n: Int, rotated: Bool = false) throws(ModelFileError) -> FloatBuffer {
            let t = try tensor(name, n, 1)
            let b = FloatBuffer(count: n)
            dequantize(t.type, from: f.data(of: t), count: n, into: b.pointer)
            guard rotated && permute else { return b }
            let permuted = FloatBuffer(count: n)
            for i in 0..<n { permuted.pointer[RotaryOrder.llamaRow(ofHFRow: i, headDim: c.headDim)] = b.pointer[i] }
            return permuted
        }

        var layers: [LlamaLayerWeights] = []
        for i in 0..<c.layerCount {
            let p = "blk.\(i)."
            let arch = c.architecture
            layers.append(LlamaLayerWeights(
                attentionNorm: try vector(p + "attn_norm.weight", c.dim),
                query: try linear(p + "attn_q.weight", out: c.qDim, in: c.dim, rotated: true),
                key: try linear(p + "attn_k.weight", out: c.kvDim, in: c.dim, rotated: true),
                value: try linear(p + "attn_v.weight", out: c.kvDim, in: c.dim),
                output: try linear(p + "attn_output.weight", out: c.dim, in: c.qDim),
                ffnNorm: try vector(p + "ffn_norm.weight", c.dim),
                gate: try linear(p + "ffn_gate.weight", out: c.ffnDim, in: c.dim),
                up: try linear(p + "ffn_up.weight", out: c.ffnDim, in: c.dim),
                down: try linear(p + "ffn_down.weight", out: c.dim, in: c.ffnDim),
                projectionBiases: arch.hasProjectionBiases
                    ? (try vector(p + "attn_q.bias", c.qDim, rotated: true), try vector(p + "attn_k.bias", c.kvDim, rotated: true),
                       try vector(p + "attn_v.bias", c.kvDim))
                    : nil,
                headNorms: arch.hasHeadNorms
                    ? (try vector(p + "attn_q_norm.weight", c.headDim, rotated: true), try vector(p + "attn_k_norm.weight", c.headDim, rotated: true))
                    : nil))
        }
        let embedding = try linear("token_embd.weight", out: c.vocabSize, in: c.dim)
        let head = f.tensor("output.weight") == nil ? embedding : try linear("output.weight", out: c.vocabSize, in: c.dim)
        self.init(config: c, tokenEmbedding: embedding, layers: layers,
                  outputNorm: try vector("output_norm.weight", c.dim), outputHead: head)
    }
}
