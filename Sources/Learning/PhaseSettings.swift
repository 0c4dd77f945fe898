// PhaseSettings: everything that defines a training phase — loss, β, steps, batch, ensemble, LoRA shape,
// optimiser, and where the reference log-probs come from (BPO's behavior policy or a baseline).

import Llama

/// The reference policy of the DAP loss.
public enum ReferenceMode: Codable, Sendable, Equatable {
    /// BPO: the behavior policy that sampled each pair (its recorded log-probs).
    case behavior
    /// Online DPO: a fixed reference, the initial policy (the base model).
    case initial
    /// TR-DPO soft update: reference ← α·policy + (1 − α)·reference after every step.
    case softUpdate(alpha: Double)
    /// TR-DPO hard update: reference ← policy every τ steps.
    case hardUpdate(tau: Int)
}

extension ReferenceMode {
    /// Parses `behavior`, `initial`, `soft:<alpha>` or `hard:<tau>`.
    public init?(text: String) {
        let parts = text.split(separator: ":")
        switch (parts.first, parts.count) {
        case ("behavior", 1): self = .behavior
        case ("initial", 1): self = .initial
        case ("soft", 2): guard let a = Double(parts[1]) else { return nil }; self = .softUpdate(alpha: a)
        case ("hard", 2): guard let t = Int(parts[1]) else { return nil }; self = .hardUpdate(tau: t)
        default: return nil
        }
    }
}

/// The settings of one phase.
public struct PhaseSettings: Codable, Sendable, Equatable {
    public var loss: PreferenceLoss = .dpo
    public var beta: Double = 0.1
    public var steps: Int = 100
    /// Pairs per step.
    public var batchSize: Int = 16
    public var ensembleSize: Int = 5
    public var lora = LoRAConfiguration(rank: 16, alpha: 32)
    public var optimizer = AdamWConfiguration()
    public var reference: ReferenceMode = .behavior
    /// Seeds the members' initialisation and the batch order.
    public var seed: UInt64 = 0
    /// Rows per forward/backward pass (pairs are grouped into micro-batches of about this many rows).
    public var microBatchRows: Int = 1024

    public init() {}

    /// Why these settings cannot train, or nil.
    public var problem: String? {
        if !(beta > 0) { return "beta must be positive" }
        if steps < 1 { return "steps must be at least 1" }
        if batchSize < 1 { return "batch size must be at least 1" }
        if ensembleSize < 1 { return "the ensemble needs at least one member" }
        if lora.rank < 1 || !(lora.alpha > 0) || lora.targets.isEmpty { return "LoRA needs rank ≥ 1, alpha > 0 and a target" }
        if !(optimizer.learningRate > 0) { return "the learning rate must be positive" }
        if optimizer.weightDecay < 0 || optimizer.warmupSteps < 0 || optimizer.clipNorm < 0 { return "optimiser settings must not be negative" }
        switch reference {
        case let .softUpdate(alpha) where !(alpha > 0 && alpha <= 1): return "the soft-update α must be in (0, 1]"
        case let .hardUpdate(tau) where tau < 1: return "the hard-update τ must be at least 1"
        default: return nil
        }
    }
}
