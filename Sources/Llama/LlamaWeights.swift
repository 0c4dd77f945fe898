// LlamaWeights: the immutable parameters of a Llama model, shared by every request and the learner.
// Linear layers keep their stored quantisation (decode) and an fp32 copy (sgemm, training).

import ProximaNumerics

/// The weights of one transformer block.
public struct LlamaLayerWeights: @unchecked Sendable {
    public let attentionNorm: FloatBuffer   // [dim]
    public let query: LinearWeight          // [qDim × dim]
    public let key: LinearWeight            // [kvDim × dim]
    public let value: LinearWeight          // [kvDim × dim]
    public let output: LinearWeight         // [dim × qDim]
    public let ffnNorm: FloatBuffer         // [dim]
    public let gate: LinearWeight           // [ffnDim × dim]
    public let up: LinearWeight             // [ffnDim × dim]
    public let down: LinearWeight           // [dim × ffnDim]
    /// Qwen2: biases of q [qDim], k and v [kvDim] (frozen, like every base weight).
    public let projectionBiases: (query: FloatBuffer, key: FloatBuffer, value: FloatBuffer)?
    /// Qwen3: the RMSNorm weights [headDim] applied to each head of q and of k before RoPE.
    public let headNorms: (query: FloatBuffer, key: FloatBuffer)?

    public init(attentionNorm: FloatBuffer, query: LinearWeight, key: LinearWeight, value: LinearWeight,
                output: LinearWeight, ffnNorm: FloatBuffer, gate: LinearWeight, up: LinearWeight, down: LinearWeight,
                projectionBiases: (query: FloatBuffer, key: FloatBuffer, value: FloatBuffer)? = nil,
                headNorms: (query: FloatBuffer, key: FloatBuffer)? = nil) {
        self.attentionNorm = attentionNorm; self.query = query; self.key = key; self.value = value
        self.output = output; self.ffnNorm = ffnNorm; self.gate = gate; self.up = up; self.down = down
        self.projectionBiases = projectionBiases; self.headNorms = headNorms
    }

    /// The linear layers by role, in a fixed order.
    public var linears: [(LinearRole, LinearWeight)] {
        [(.query, query), (.key, key), (.value, value), (.output, output), (.gate, gate), (.up, up), (.down, down)]
    }
}

/// The seven linear projections of a Llama block (the LoRA targets).
public enum LinearRole: String, CaseIterable, Sendable, Codable {
    case query = "q", key = "k", value = "v", output = "o", gate = "gate", up = "up", down = "down"

    /// The roles `names` name (`q`, `k`, `v`, `o`, `gate`, `up`, `down`), in order.
    public static func roles(named names: some Sequence<some StringProtocol>) throws(UnknownLinearRole) -> [LinearRole] {
        var roles: [LinearRole] = []
        for name in names {
            guard let role = LinearRole(rawValue: String(name)) else { throw UnknownLinearRole(name: String(name)) }
            roles.append(role)
        }
        return roles
    }
}

/// A LoRA target name that is not a linear layer of the model.
public struct UnknownLinearRole: Error, CustomStringConvertible {
    public let name: String
    public var description: String { "unknown LoRA target '\(name)' (q, k, v, o, gate, up, down)" }
}

/// All weights of a Llama model.
public final class LlamaWeights: @unchecked Sendable {
    public let config: LlamaConfig
    public let tokenEmbedding: LinearWeight   // [vocab × dim]
    public let layers: [LlamaLayerWeights]
    public let outputNorm: FloatBuffer        // [dim]
    /// The output head [vocab × dim]; the token embedding itself when the model ties them.
    public let outputHead: LinearWeight

    public init(config: LlamaConfig, tokenEmbedding: LinearWeight, layers: [LlamaLayerWeights],
                outputNorm: FloatBuffer, outputHead: LinearWeight) {
        precondition(layers.count == config.layerCount)
        precondition(layers.allSatisfy { ($0.projectionBiases != nil) == config.architecture.hasProjectionBiases
                                         && ($0.headNorms != nil) == config.architecture.hasHeadNorms },
                     "\(config.architecture) block weights")
        self.config = config; self.tokenEmbedding = tokenEmbedding; self.layers = layers
        self.outputNorm = outputNorm; self.outputHead = outputHead
    }

    /// Makes the fp32 copies training reads (for packed weights; the others have them already), on the calling
    /// thread. A learner sharing the cores calls this before it takes them, so that dequantising the whole model
    /// (seconds, once per process) never holds up serving; the copies are kept for later phases.
    public func prepareTrainingCopies() {
        for w in [tokenEmbedding, outputHead] + layers.flatMap({ $0.linears.map(\.1) }) { _ = w.dense }
    }
}
