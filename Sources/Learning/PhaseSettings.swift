// PhaseSettings: everything that defines a training phase — loss, β, steps, batch, ensemble, LoRA shape,
// optimiser, and where the reference log-probs come from (BPO's behavior policy or a baseline). One type for
// every place a phase is configured: the `learner:` section of config/proxima.yaml and its PROXIMA_LEARNER_*
// variables, `POST /admin/phases`, `proxima train`, `proxima experiment`, and the phase row that records it.
// Its Codable form is flat and snake_case, the keys those places use; every default is written once, here.

import Llama

/// The reference policy of the DAP loss.
public enum ReferenceMode: Sendable, Equatable {
    /// BPO: the behavior policy that sampled each pair (its recorded log-probs).
    case behavior
    /// Online DPO: a fixed reference, the initial policy (the base model).
    case initial
    /// TR-DPO soft update: reference ← α·policy + (1 − α)·reference after every step.
    case softUpdate(alpha: Double)
    /// TR-DPO hard update: reference ← policy every τ steps.
    case hardUpdate(tau: Int)
}

extension ReferenceMode: LosslessStringConvertible, Codable {
    /// Parses `behavior`, `initial`, `soft:<alpha>` or `hard:<tau>`.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        switch (parts.first, parts.count) {
        case ("behavior", 1): self = .behavior
        case ("initial", 1): self = .initial
        case ("soft", 2): guard let a = Double(parts[1]) else { return nil }; self = .softUpdate(alpha: a)
        case ("hard", 2): guard let t = Int(parts[1]) else { return nil }; self = .hardUpdate(tau: t)
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .behavior: "behavior"
        case .initial: "initial"
        case let .softUpdate(alpha): "soft:\(alpha)"
        case let .hardUpdate(tau): "hard:\(tau)"
        }
    }

    public static let forms = "behavior, initial, soft:<alpha> or hard:<tau>"

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        let text = try c.decode(String.self)
        guard let mode = ReferenceMode(text) else {
            throw DecodingError.dataCorruptedError(in: c, debugDescription: "reference must be \(Self.forms) (got \(text))")
        }
        self = mode
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// The settings of one phase.
public struct PhaseSettings: Sendable, Equatable {
    public var loss: PreferenceLoss = .dpo
    public var beta: Double = 0.1
    /// Optimiser steps, each on `batchSize` pairs.
    public var steps: Int = 8
    /// Pairs per step.
    public var batchSize: Int = 16
    public var ensembleSize: Int = 5
    /// Rank 16, alpha 2 · rank, all seven projections.
    public var lora = LoRAConfiguration()
    public var optimizer = AdamWConfiguration()
    public var reference: ReferenceMode = .behavior
    /// KTO's weights λ_D and λ_U of desirable and undesirable examples.
    public var desirableWeight: Double = 1
    public var undesirableWeight: Double = 1
    /// Seeds the members' initialisation and the batch order.
    public var seed: UInt64 = 0
    /// Rows per forward/backward pass (pairs are grouped into micro-batches of about this many rows).
    public var microBatchRows: Int = 1024

    public init() {}

    /// The largest values accepted (a phase is bounded work; the memory it needs is checked separately,
    /// against the model, by `estimatedBytes`).
    public static let maxSteps = 100_000, maxBatchSize = 4096, maxEnsembleSize = 64, maxRank = 1024, maxMicroBatchRows = 65_536

    /// Why these settings cannot train, or nil.
    public var problem: String? {
        if !(beta > 0) { return "beta must be positive" }
        if !(1...Self.maxSteps).contains(steps) { return "steps must be in 1...\(Self.maxSteps)" }
        if !(1...Self.maxBatchSize).contains(batchSize) { return "batch_size must be in 1...\(Self.maxBatchSize)" }
        if !(1...Self.maxEnsembleSize).contains(ensembleSize) { return "ensemble must be in 1...\(Self.maxEnsembleSize)" }
        if !(1...Self.maxRank).contains(lora.rank) || !(lora.alpha > 0) || lora.targets.isEmpty {
            return "LoRA needs rank in 1...\(Self.maxRank), alpha > 0 and a target"
        }
        if microBatchRows > Self.maxMicroBatchRows { return "micro_batch_rows must be at most \(Self.maxMicroBatchRows)" }
        if !(desirableWeight > 0) || !(undesirableWeight > 0) { return "desirable_weight and undesirable_weight must be positive" }
        if !(optimizer.learningRate > 0) { return "the learning rate must be positive" }
        if optimizer.weightDecay < 0 || optimizer.warmupSteps < 0 || optimizer.clipNorm < 0 { return "optimiser settings must not be negative" }
        if microBatchRows < 1 { return "micro_batch_rows must be at least 1" }
        switch reference {
        case let .softUpdate(alpha) where !(alpha > 0 && alpha <= 1): return "the soft-update α must be in (0, 1]"
        case let .hardUpdate(tau) where tau < 1: return "the hard-update τ must be at least 1"
        default: return nil
        }
    }
}

// MARK: - Memory

extension PhaseSettings {
    /// The memory a phase with these settings needs on `model`, in bytes, beyond what serving holds: every
    /// member's LoRA parameters, gradients and AdamW moments, and the activation arena of one micro-batch of
    /// `microBatchRows` rows (logits for three quarters of them; a single pair longer than that grows it). The
    /// base weights' fp32 copy that training reads is made once and kept, so it is not counted here.
    public func estimatedBytes(model c: LlamaConfig) -> Int {
        let perMember = LoRALayout(model: c, lora: lora).count
        let state = 4 * perMember * ensembleSize
        let rows = microBatchRows
        let logitRows = rows * 3 / 4
        let mergedRank = lora.rank * ensembleSize
        let perLayerRow = 8 * c.dim + 2 * c.kvDim + c.headCount + 2 + 2 * c.ffnDim + lora.targets.count * mergedRank
        let perRow = c.layerCount * perLayerRow + 6 * c.dim + c.headDim + 2 * c.kvDim + 2 * c.ffnDim
        let perLogitRow = c.dim + 1 + c.vocabSize
        return 4 * (state + rows * perRow + logitRows * perLogitRow)
    }
}

// MARK: - The flat, snake_case form

extension PhaseSettings: Codable {
    /// Every key of the flat form, as written in config/proxima.yaml's `learner:` section and in requests.
    public enum Key: String, CodingKey, CaseIterable {
        case loss, beta, steps, ensemble, rank, alpha, targets, reference, seed
        case batchSize = "batch_size", learningRate = "learning_rate", warmupSteps = "warmup_steps"
        case weightDecay = "weight_decay", clipNorm = "clip_norm", microBatchRows = "micro_batch_rows"
        case desirableWeight = "desirable_weight", undesirableWeight = "undesirable_weight"
    }

    /// Absent keys keep their defaults; `alpha` absent is 2 · rank.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: Key.self)
        if let name = try c.decodeIfPresent(String.self, forKey: .loss) {
            guard let value = PreferenceLoss(rawValue: name) else {
                let known = PreferenceLoss.allCases.map(\.rawValue).joined(separator: ", ")
                throw DecodingError.dataCorruptedError(forKey: .loss, in: c, debugDescription: "the loss must be one of \(known) (got \(name))")
            }
            loss = value
        }
        beta = try c.decodeIfPresent(Double.self, forKey: .beta) ?? beta
        steps = try c.decodeIfPresent(Int.self, forKey: .steps) ?? steps
        batchSize = try c.decodeIfPresent(Int.self, forKey: .batchSize) ?? batchSize
        ensembleSize = try c.decodeIfPresent(Int.self, forKey: .ensemble) ?? ensembleSize
        let rank = try c.decodeIfPresent(Int.self, forKey: .rank) ?? lora.rank
        let alpha = try c.decodeIfPresent(Float.self, forKey: .alpha)
        var targets = lora.targets
        if let names = try c.decodeIfPresent([String].self, forKey: .targets) {
            do { targets = try LinearRole.roles(named: names) } catch {
                throw DecodingError.dataCorruptedError(forKey: .targets, in: c, debugDescription: "\(error)")
            }
        }
        lora = LoRAConfiguration(rank: rank, alpha: alpha, targets: targets)
        optimizer.learningRate = try c.decodeIfPresent(Double.self, forKey: .learningRate) ?? optimizer.learningRate
        optimizer.warmupSteps = try c.decodeIfPresent(Int.self, forKey: .warmupSteps) ?? optimizer.warmupSteps
        optimizer.weightDecay = try c.decodeIfPresent(Double.self, forKey: .weightDecay) ?? optimizer.weightDecay
        optimizer.clipNorm = try c.decodeIfPresent(Double.self, forKey: .clipNorm) ?? optimizer.clipNorm
        reference = try c.decodeIfPresent(ReferenceMode.self, forKey: .reference) ?? reference
        seed = try c.decodeIfPresent(UInt64.self, forKey: .seed) ?? seed
        microBatchRows = try c.decodeIfPresent(Int.self, forKey: .microBatchRows) ?? microBatchRows
        desirableWeight = try c.decodeIfPresent(Double.self, forKey: .desirableWeight) ?? desirableWeight
        undesirableWeight = try c.decodeIfPresent(Double.self, forKey: .undesirableWeight) ?? undesirableWeight
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(loss, forKey: .loss)
        try c.encode(beta, forKey: .beta)
        try c.encode(steps, forKey: .steps)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(ensembleSize, forKey: .ensemble)
        try c.encode(lora.rank, forKey: .rank)
        try c.encode(lora.alpha, forKey: .alpha)
        try c.encode(lora.targets.map(\.rawValue), forKey: .targets)
        try c.encode(optimizer.learningRate, forKey: .learningRate)
        try c.encode(optimizer.warmupSteps, forKey: .warmupSteps)
        try c.encode(optimizer.weightDecay, forKey: .weightDecay)
        try c.encode(optimizer.clipNorm, forKey: .clipNorm)
        try c.encode(reference, forKey: .reference)
        try c.encode(seed, forKey: .seed)
        try c.encode(microBatchRows, forKey: .microBatchRows)
        try c.encode(desirableWeight, forKey: .desirableWeight)
        try c.encode(undesirableWeight, forKey: .undesirableWeight)
    }
}
