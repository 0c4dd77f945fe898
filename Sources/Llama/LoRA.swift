// LoRA: low-rank adapters on a Llama's linear layers. A layout fixes where each (layer, target) pair's
// A [rank × in] and B [out × rank] live in one flat buffer; parameters, gradients and optimiser moments
// all use it. Rows of B for q and k are in GGUF order (see FACTS.md), like the base weights.

import ProximaNumerics

/// Which layers get adapters and how large they are.
public struct LoRAConfiguration: Codable, Sendable, Equatable {
    public var rank: Int
    public var alpha: Float
    public var targets: [LinearRole]

    /// `alpha` nil: 2 · rank (a scale of 2, the convention everywhere in Proxima).
    public init(rank: Int = 16, alpha: Float? = nil, targets: [LinearRole] = LinearRole.allCases) {
        self.rank = rank
        self.alpha = alpha ?? Float(2 * rank)
        self.targets = LinearRole.allCases.filter(targets.contains)
    }

    /// The adapter's output is scaled by alpha / rank.
    public var scale: Float { alpha / Float(rank) }
}

extension LlamaConfig {
    /// (input, output) width of a linear layer.
    public func shape(of role: LinearRole) -> (input: Int, output: Int) {
        switch role {
        case .query: return (dim, qDim)
        case .output: return (qDim, dim)
        case .key, .value: return (dim, kvDim)
        case .gate, .up: return (dim, ffnDim)
        case .down: return (ffnDim, dim)
        }
    }
}

/// Offsets of every adapter matrix in a flat buffer.
public struct LoRALayout: Sendable, Equatable {
    public let model: LlamaConfig
    public let lora: LoRAConfiguration
    /// Offsets of A and B for layer l, target index t (position in `lora.targets`) at [l · targets + t].
    private let offsets: [(a: Int, b: Int)]
    public let count: Int

    public init(model: LlamaConfig, lora: LoRAConfiguration) {
        self.model = model
        self.lora = lora
        var offsets: [(a: Int, b: Int)] = []
        var n = 0
        for _ in 0..<model.layerCount {
            for role in lora.targets {
                let (input, output) = model.shape(of: role)
                offsets.append((n, n + lora.rank * input))
                n += lora.rank * (input + output)
            }
        }
        self.offsets = offsets
        count = n
    }

    public static func == (a: LoRALayout, b: LoRALayout) -> Bool { a.model == b.model && a.lora == b.lora }

    /// Offsets of (A, B) for `role` in `layer`, or nil when the role has no adapter.
    public func offsets(layer: Int, role: LinearRole) -> (a: Int, b: Int)? {
        guard let t = lora.targets.firstIndex(of: role) else { return nil }
        return offsets[layer * lora.targets.count + t]
    }
}

/// A buffer in a LoRA layout: one member's parameters, or their gradients, or an optimiser moment.
public final class LoRATensors: @unchecked Sendable {
    public let layout: LoRALayout
    public let storage: FloatBuffer

    public init(layout: LoRALayout) {
        self.layout = layout
        storage = FloatBuffer(count: layout.count)
    }

    public func a(layer: Int, role: LinearRole) -> UnsafeMutablePointer<Float>? {
        layout.offsets(layer: layer, role: role).map { storage.pointer + $0.a }
    }

    public func b(layer: Int, role: LinearRole) -> UnsafeMutablePointer<Float>? {
        layout.offsets(layer: layer, role: role).map { storage.pointer + $0.b }
    }

    public func copy() -> LoRATensors {
        let c = LoRATensors(layout: layout)
        c.storage.pointer.update(from: storage.pointer, count: layout.count)
        return c
    }
}

// MARK: - Applying an adapter

/// Something that adds a low-rank delta to some of a model's linear layers: one ensemble member's LoRA, or
/// an ensemble's exact merge.
public protocol LinearAdapter: AnyObject, Sendable {
    /// The delta for `role` in `layer`, or nil when that layer is not adapted.
    func delta(layer: Int, role: LinearRole) -> LowRankDelta?
    /// The rank of every delta (for scratch sizing).
    var rank: Int { get }
    /// The adapted roles.
    var targets: [LinearRole] { get }
}

extension LoRATensors: LinearAdapter {
    public func delta(layer: Int, role: LinearRole) -> LowRankDelta? {
        guard let a = a(layer: layer, role: role), let b = b(layer: layer, role: role) else { return nil }
        let (input, output) = layout.model.shape(of: role)
        return LowRankDelta(a: a, b: b, rank: layout.lora.rank, input: input, output: output, scale: layout.lora.scale)
    }
    public var rank: Int { layout.lora.rank }
    public var targets: [LinearRole] { layout.lora.targets }
}

/// A low-rank delta y += scale · (x·Aᵀ)·Bᵀ with A [rank × in] and B [out × rank]; `scratch` holds x·Aᵀ.
public struct LowRankDelta {
    public var a: UnsafePointer<Float>
    public var b: UnsafePointer<Float>
    public var rank: Int
    public var input: Int
    public var output: Int
    public var scale: Float

    public init(a: UnsafePointer<Float>, b: UnsafePointer<Float>, rank: Int, input: Int, output: Int, scale: Float) {
        self.a = a; self.b = b; self.rank = rank; self.input = input; self.output = output; self.scale = scale
    }

    /// Rows up to which `apply` runs matrix-vector products, a row at a time (the factors stay in L2 between rows):
    /// sgemm packs both factors on every call, which for a decode step's few rows moves more bytes than the
    /// products read. With a merged 5 × 16 adapter (`proxima bench --adapter`, AVX2 machine) 1-stream decode went
    /// from 42–46 to 78–80 tok/s, 3 streams 120 → 155; at 8 rows both ways are equal.
    static let vectorRows = 8

    /// u = x·Aᵀ into `u` [m × rank], then y += scale · u·Bᵀ.
    public func apply(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, u: UnsafeMutablePointer<Float>, m: Int, pool: ComputePool?) {
        if m <= Self.vectorRows {
            for i in 0..<m {
                BLAS.gemv(rows: rank, cols: input, m: a, x: x + i * input, y: u + i * rank, pool: pool)
                BLAS.gemv(rows: output, cols: rank, alpha: scale, m: b, x: u + i * rank, beta: 1, y: y + i * output, pool: pool)
            }
            return
        }
        BLAS.gemm(.none, .transposed, m: m, n: rank, k: input, a: x, lda: input, b: a, ldb: input, c: u, ldc: rank, pool: pool)
        BLAS.gemm(.none, .transposed, m: m, n: output, k: rank, alpha: scale, a: u, lda: rank, b: b, ldb: rank,
                  beta: 1, c: y, ldc: output, pool: pool)
    }
}
