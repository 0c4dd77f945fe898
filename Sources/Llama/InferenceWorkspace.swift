// InferenceWorkspace: the activation buffers of one forward batch, allocated once for a maximum row count
// and reused for every step (no allocation in the token loop).

import ProximaNumerics

/// Scratch activations for up to `maxRows` token rows.
public final class InferenceWorkspace: @unchecked Sendable {
    public let maxRows: Int
    let x: FloatBuffer        // [rows × dim] residual stream
    let normed: FloatBuffer   // [rows × dim]
    let q: FloatBuffer        // [rows × qDim]
    let k: FloatBuffer        // [rows × kvDim]
    let v: FloatBuffer        // [rows × kvDim]
    let attention: FloatBuffer // [rows × qDim]
    let projected: FloatBuffer // [rows × dim]
    let gate: FloatBuffer     // [rows × ffnDim]
    let up: FloatBuffer       // [rows × ffnDim]
    let rope: FloatBuffer     // [rows × headDim] cos | sin
    let logits: FloatBuffer   // [rows × vocab]
    private var adapterU: FloatBuffer?  // [rows × adapter rank], made on first use

    public init(config c: LlamaConfig, maxRows: Int) {
        self.maxRows = maxRows
        x = FloatBuffer(count: maxRows * c.dim)
        normed = FloatBuffer(count: maxRows * c.dim)
        q = FloatBuffer(count: maxRows * c.qDim)
        k = FloatBuffer(count: maxRows * c.kvDim)
        v = FloatBuffer(count: maxRows * c.kvDim)
        attention = FloatBuffer(count: maxRows * c.qDim)
        projected = FloatBuffer(count: maxRows * c.dim)
        gate = FloatBuffer(count: maxRows * c.ffnDim)
        up = FloatBuffer(count: maxRows * c.ffnDim)
        rope = FloatBuffer(count: maxRows * c.headDim)
        logits = FloatBuffer(count: maxRows * c.vocabSize)
    }

    /// Scratch for an adapter's x·Aᵀ [maxRows × rank].
    func adapterScratch(rank: Int) -> UnsafeMutablePointer<Float> {
        if adapterU == nil || adapterU!.count < maxRows * rank { adapterU = FloatBuffer(count: maxRows * rank) }
        return adapterU!.pointer
    }
}
