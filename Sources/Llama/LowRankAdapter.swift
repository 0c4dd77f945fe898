// LowRankAdapter: what a served policy adds to the base model: for each adapted linear layer, the exact mean
// of an ensemble's deltas, (scale/E)·Σ B_i A_i, kept factored as [B_1 … B_E]·[A_1; …; A_E] (rank E·r).

import ProximaNumerics

/// The merged adapter of a LoRA ensemble, applied at matmul time beside the base weights.
public final class LowRankAdapter: LinearAdapter, @unchecked Sendable {
    public let layout: LoRALayout
    /// Members merged: the factors are [A_1; …; A_E] and [B_1 … B_E] (rank E·r), scaled by scale/E.
    public let memberCount: Int
    private let a: FloatBuffer
    private let b: FloatBuffer
    private var offsets: [Int: (a: Int, b: Int)] = [:]

    /// Merges `members` (all in one layout) exactly: Δ = (scale / E) Σ_i B_i A_i.
    public init(members: [LoRATensors]) {
        precondition(!members.isEmpty)
        layout = members[0].layout
        memberCount = members.count
        let r = layout.lora.rank, e = members.count
        a = FloatBuffer(count: layout.count * e)
        b = FloatBuffer(count: layout.count * e)
        var na = 0, nb = 0
        for layer in 0..<layout.model.layerCount {
            for role in layout.lora.targets {
                let (input, output) = layout.model.shape(of: role)
                offsets[Self.key(layer, role)] = (na, nb)
                for (i, m) in members.enumerated() {
                    // A_cat rows i·r ..< (i+1)·r are member i's A.
                    (a.pointer + na + i * r * input).update(from: m.a(layer: layer, role: role)!, count: r * input)
                    // B_cat columns i·r ..< (i+1)·r are member i's B.
                    let mb = m.b(layer: layer, role: role)!
                    for row in 0..<output {
                        (b.pointer + nb + row * r * e + i * r).update(from: mb + row * r, count: r)
                    }
                }
                na += e * r * input
                nb += e * r * output
            }
        }
    }

    private static func key(_ layer: Int, _ role: LinearRole) -> Int { layer * 8 + LinearRole.allCases.firstIndex(of: role)! }

    /// The delta for `role` in `layer`, or nil when that layer is not adapted.
    public func delta(layer: Int, role: LinearRole) -> LowRankDelta? {
        guard let o = offsets[Self.key(layer, role)] else { return nil }
        let (input, output) = layout.model.shape(of: role)
        return LowRankDelta(a: a.pointer + o.a, b: b.pointer + o.b, rank: layout.lora.rank * memberCount,
                            input: input, output: output, scale: layout.lora.scale / Float(memberCount))
    }

    public var rank: Int { layout.lora.rank * memberCount }
    public var targets: [LinearRole] { layout.lora.targets }
}
