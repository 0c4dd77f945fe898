// LlamaConfig: the shape of a Llama-family model (layers, widths, heads, RoPE, norm epsilon) and which
// member of the family it is. Read from a model file's metadata by ModelFiles; checked for consistency here.

/// The members of the Llama family Proxima runs, named as in GGUF's `general.architecture`. They share the
/// block (RMSNorm, grouped-query attention with RoPE, SwiGLU); Qwen2 adds biases to the q, k and v
/// projections and Qwen3 an RMSNorm over each head of q and k before RoPE.
public enum ModelArchitecture: String, Sendable, Codable, CaseIterable {
    case llama, qwen2, qwen3

    /// Whether the q, k and v projections carry biases.
    public var hasProjectionBiases: Bool { self == .qwen2 }
    /// Whether each head of q and k is RMS-normalised (with its own weight) before RoPE.
    public var hasHeadNorms: Bool { self == .qwen3 }
}

/// Hyper-parameters of a Llama-family model.
public struct LlamaConfig: Sendable, Codable, Equatable {
    public var architecture: ModelArchitecture
    public var layerCount: Int
    public var dim: Int
    public var ffnDim: Int
    public var headCount: Int
    public var kvHeadCount: Int
    public var headDim: Int
    public var vocabSize: Int
    public var contextLength: Int
    public var ropeBase: Float
    public var normEps: Float
    /// Llama 3.1's RoPE frequency factors (one per rotated pair: θ_i is divided by factor i), or nil.
    public var ropeFactors: [Float]?

    public init(architecture: ModelArchitecture = .llama, layerCount: Int, dim: Int, ffnDim: Int, headCount: Int,
                kvHeadCount: Int, headDim: Int, vocabSize: Int, contextLength: Int, ropeBase: Float, normEps: Float,
                ropeFactors: [Float]? = nil) {
        self.architecture = architecture; self.layerCount = layerCount; self.dim = dim; self.ffnDim = ffnDim
        self.headCount = headCount; self.kvHeadCount = kvHeadCount; self.headDim = headDim; self.vocabSize = vocabSize
        self.contextLength = contextLength; self.ropeBase = ropeBase; self.normEps = normEps; self.ropeFactors = ropeFactors
    }

    /// Width of the keys (and values) of one position: kvHeadCount · headDim.
    public var kvDim: Int { kvHeadCount * headDim }
    /// Width of the queries (and of the attention output): headCount · headDim — the embedding width in
    /// Llama and Qwen2, wider in Qwen3.
    public var qDim: Int { headCount * headDim }

    /// Why the configuration cannot describe a model, or nil when it can.
    public var inconsistency: String? {
        if [layerCount, dim, ffnDim, headCount, kvHeadCount, headDim, vocabSize, contextLength].contains(where: { $0 <= 0 }) {
            return "every size must be positive"
        }
        let (width, overflow) = headCount.multipliedReportingOverflow(by: headDim)
        if architecture == .qwen3 {
            if overflow || width > 1 << 20 { return "head count \(headCount) × head dim \(headDim) is too wide" }
        } else if overflow || width != dim {
            return "head count \(headCount) × head dim \(headDim) ≠ embedding width \(dim)"
        }
        if headCount % kvHeadCount != 0 { return "head count \(headCount) is not a multiple of the KV head count \(kvHeadCount)" }
        if headDim % 2 != 0 { return "head dim \(headDim) is odd (RoPE rotates pairs)" }
        if dim % 32 != 0 || ffnDim % 32 != 0 || width % 32 != 0 { return "widths must be multiples of 32" }
        if let ropeFactors, ropeFactors.count != headDim / 2 || !ropeFactors.allSatisfy({ $0 > 0 }) {
            return "\(ropeFactors.count) RoPE frequency factors for \(headDim / 2) pairs (each must be positive)"
        }
        if !(ropeBase > 0) || !(normEps > 0) { return "RoPE base and norm epsilon must be positive" }
        return nil
    }
}
