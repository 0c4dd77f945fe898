// LoRAEnsemble: E LoRA members, each with its own initialisation seed and AdamW state, trained on the same
// batches; the served policy is the exact merge (scale/E)·Σ B_i A_i. A version's state is the whole ensemble.

import Llama
import ProximaNumerics

/// One member: its parameters and optimiser state.
public final class LoRAMember: @unchecked Sendable {
    public let parameters: LoRATensors
    public let optimizer: AdamWState

    public init(parameters: LoRATensors, optimizer: AdamWState) {
        self.parameters = parameters
        self.optimizer = optimizer
    }

    /// A fresh member as PEFT initialises one: A ~ U(−1/√in, 1/√in) from `seed`, B = 0.
    public convenience init(layout: LoRALayout, seed: UInt64) {
        let p = LoRATensors(layout: layout)
        var generator = SplitMix64(seed: seed)
        func uniform() -> Float { Float(generator.next() >> 40) / Float(1 << 24) }
        for layer in 0..<layout.model.layerCount {
            for role in layout.lora.targets {
                let (input, _) = layout.model.shape(of: role)
                let bound = 1 / Float(input).squareRoot()
                let a = p.a(layer: layer, role: role)!
                for i in 0..<(layout.lora.rank * input) { a[i] = (2 * uniform() - 1) * bound }
            }
        }
        self.init(parameters: p, optimizer: AdamWState(layout: layout))
    }

    public func copy() -> LoRAMember { LoRAMember(parameters: parameters.copy(), optimizer: optimizer.copy()) }
}

/// The ensemble a policy version holds.
public final class LoRAEnsemble: @unchecked Sendable {
    public let layout: LoRALayout
    public let members: [LoRAMember]

    public init(layout: LoRALayout, members: [LoRAMember]) {
        precondition(!members.isEmpty && members.allSatisfy { $0.parameters.layout == layout })
        self.layout = layout
        self.members = members
    }

    /// E fresh members with seeds seed, seed+1, …
    public convenience init(layout: LoRALayout, memberCount: Int, seed: UInt64) {
        self.init(layout: layout, members: (0..<memberCount).map { LoRAMember(layout: layout, seed: seed &+ UInt64($0)) })
    }

    /// A deep copy (a phase trains a copy; the serving version's state is never modified).
    public func copy() -> LoRAEnsemble { LoRAEnsemble(layout: layout, members: members.map { $0.copy() }) }

    /// The served adapter: the exact mean of the members' deltas.
    public func merged() -> LowRankAdapter { LowRankAdapter(members: members.map(\.parameters)) }
}
