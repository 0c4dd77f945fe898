// KVCache: the keys and values of one sequence, per layer, position-major ([position][kvDim]).
// Grows by doubling; a sequence owns one cache from its prefill until it finishes.

import ProximaNumerics

/// Keys and values of one sequence for every layer. Not thread-safe: one owner at a time.
public final class KVCache: @unchecked Sendable {
    public let layerCount: Int
    public let kvDim: Int
    public private(set) var capacity: Int
    /// Positions 0..<length hold valid keys and values.
    public internal(set) var length = 0
    private var keyBuffers: [FloatBuffer]
    private var valueBuffers: [FloatBuffer]

    public init(layerCount: Int, kvDim: Int, capacity: Int = 256) {
        self.layerCount = layerCount
        self.kvDim = kvDim
        self.capacity = max(capacity, 1)
        keyBuffers = (0..<layerCount).map { _ in FloatBuffer(count: max(capacity, 1) * kvDim) }
        valueBuffers = (0..<layerCount).map { _ in FloatBuffer(count: max(capacity, 1) * kvDim) }
    }

    public convenience init(config: LlamaConfig, capacity: Int = 256) {
        self.init(layerCount: config.layerCount, kvDim: config.kvDim, capacity: capacity)
    }

    public func keys(layer: Int) -> UnsafeMutablePointer<Float> { keyBuffers[layer].pointer }
    public func values(layer: Int) -> UnsafeMutablePointer<Float> { valueBuffers[layer].pointer }

    /// Makes room for `positions` positions, keeping what is stored.
    public func reserve(_ positions: Int) {
        guard positions > capacity else { return }
        var newCapacity = capacity
        while newCapacity < positions { newCapacity *= 2 }
        func grow(_ old: FloatBuffer) -> FloatBuffer {
            let b = FloatBuffer(count: newCapacity * kvDim)
            b.pointer.update(from: old.pointer, count: length * kvDim)
            return b
        }
        keyBuffers = keyBuffers.map(grow)
        valueBuffers = valueBuffers.map(grow)
        capacity = newCapacity
    }

    /// Replaces this cache's contents with a copy of the first `positions` (default: all) of `other`'s (a
    /// response pair forks its shared prompt; a prompt starts from a cached prefix).
    public func copy(from other: KVCache, positions: Int? = nil) {
        let n = positions ?? other.length
        precondition(other.layerCount == layerCount && other.kvDim == kvDim && n <= other.length)
        length = 0
        reserve(n)
        for l in 0..<layerCount {
            keys(layer: l).update(from: other.keys(layer: l), count: n * kvDim)
            values(layer: l).update(from: other.values(layer: l), count: n * kvDim)
        }
        length = n
    }

    /// Forgets positions from `length` on (e.g. to reuse a shared prompt prefix).
    public func truncate(to length: Int) {
        precondition(length <= self.length)
        self.length = length
    }

    /// Bytes held.
    public var byteCount: Int { 2 * layerCount * capacity * kvDim * 4 }
}
