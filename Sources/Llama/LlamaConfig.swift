// LlamaConfig: the shape of a Llama-architecture model (layers, widths, heads, RoPE, norm epsilon).
// Read from a model file's metadata by ModelFiles; checked for consistency here.

/// Hyper-parameters of a Llama model.
public struct LlamaConfig: Sendable, Codable, Equatable {
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

    public init(layerCount: Int, dim: Int, ffnDim: Int, headCount: Int, kvHeadCount: Int, headDim: Int,
                vocabSize: Int, contextLength: Int, ropeBase: Float, normEps: Float) {
        self.layerCount = layerCount; self.dim = dim; self.ffnDim = ffnDim; self.headCount = headCount
        self.kvHeadCount = kvHeadCount; self.headDim = headDim; self.vocabSize = vocabSize
        self.contextLength = contextLength; self.ropeBase = ropeBase; self.normEps = normEps
    }

    /// Width of the keys (and values) of one position: kvHeadCount · headDim.
    public var kvDim: Int { kvHeadCount * headDim }

    /// Why the configuration cannot describe a model, or nil when it can.
    public var inconsistency: String? {
        if [layerCount, dim, ffnDim, headCount, kvHeadCount, headDim, vocabSize, contextLength].contains(where: { $0 <= 0 }) {
            return "every size must be positive"
        }
        let (width, overflow) = headCount.multipliedReportingOverflow(by: headDim)
        if overflow || width != dim { return "head count \(headCount) × head dim \(headDim) ≠ embedding width \(dim)" }
        if headCount % kvHeadCount != 0 { return "head count \(headCount) is not a multiple of the KV head count \(kvHeadCount)" }
        if headDim % 2 != 0 { return "head dim \(headDim) is odd (RoPE rotates pairs)" }
        if dim % 32 != 0 || ffnDim % 32 != 0 { return "widths must be multiples of 32" }
        if !(ropeBase > 0) || !(normEps > 0) { return "RoPE base and norm epsilon must be positive" }
        return nil
    }
}
