// PhaseTrainer: the training steps of one BPO phase on an ensemble. Every member sees the same batch and
// the same reference log-probs, computes its own loss, and takes its own clipped AdamW step. Pure: no IO,
// no clock; the caller supplies the pairs, the pool and a checkpoint to yield the cores at.

import Llama
import ProximaNumerics

/// A labelled pair with the log-probs its behavior policy gave the two responses when it sampled them.
public struct TrainingExample: Sendable, Equatable {
    public var pair: PreferencePair
    public var behavior: PairLogProbs

    public init(pair: PreferencePair, behavior: PairLogProbs) {
        self.pair = pair
        self.behavior = behavior
    }

    /// A pair from its token ids and the behavior policy's per-token log-probs of each response; nil when the
    /// prompt or a response has no tokens, a token lacks its log-prob, or the pair does not fit `contextLength`.
    public init?(prompt: [Int], chosen: [Int], chosenLogprobs: [Float], rejected: [Int], rejectedLogprobs: [Float],
                 contextLength: Int) {
        guard !prompt.isEmpty, !chosen.isEmpty, !rejected.isEmpty,
              chosenLogprobs.count == chosen.count, rejectedLogprobs.count == rejected.count,
              prompt.count + max(chosen.count, rejected.count) <= contextLength else { return nil }
        self.init(pair: PreferencePair(prompt: prompt, chosen: chosen, rejected: rejected),
                  behavior: PairLogProbs(chosen: chosenLogprobs.reduce(0) { $0 + Double($1) },
                                         rejected: rejectedLogprobs.reduce(0) { $0 + Double($1) },
                                         chosenTokens: chosen.count, rejectedTokens: rejected.count))
    }
}

/// What one step measured (means over the batch and over members).
public struct StepReport: Codable, Sendable, Equatable {
    public var step: Int
    public var loss: Double
    /// Share of pairs whose implicit reward ranks chosen above rejected (h > 0).
    public var rewardAccuracy: Double
    /// Mean β·h.
    public var margin: Double
    /// Mean over responses of log π_β(y) − log π_θ(y), an estimate of KL(π_β ‖ π_θ) per response.
    public var klToBehavior: Double
    /// Gradient L2 norm before clipping, mean over members.
    public var gradientNorm: Double

    enum CodingKeys: String, CodingKey {
        case step, loss, margin
        case rewardAccuracy = "reward_accuracy", klToBehavior = "kl_to_behavior", gradientNorm = "gradient_norm"
    }
}

/// Trains an ensemble in place, step by step.
public final class PhaseTrainer: @unchecked Sendable {
    public let weights: LlamaWeights
    public let ensemble: LoRAEnsemble
    public let settings: PhaseSettings
    private let pool: ComputePool?
    private let checkpoint: () -> Void
    private var activations: TrainingActivations?
    private let gradients: LoRATensors
    /// The reference ensemble of the TR-DPO baselines.
    private var referenceEnsemble: LoRAEnsemble?
    private var step = 0
    /// When set, each step's time is added to it by kind of work (`proxima bench --train --profile`).
    public var profile: StepProfile?

    public init(weights: LlamaWeights, ensemble: LoRAEnsemble, settings: PhaseSettings, pool: ComputePool?,
                checkpoint: @escaping () -> Void = {}) {
        precondition(settings.problem == nil, settings.problem ?? "")
        self.weights = weights
        self.ensemble = ensemble
        self.settings = settings
        self.pool = pool
        self.checkpoint = checkpoint
        gradients = LoRATensors(layout: ensemble.layout)
        activations = Self.arena(config: weights.config, ensemble: ensemble, rows: settings.microBatchRows,
                                 logitRows: settings.microBatchRows * 3 / 4)
        switch settings.reference {
        case .softUpdate, .hardUpdate: referenceEnsemble = ensemble.copy()
        case .behavior, .initial: referenceEnsemble = nil
        }
    }

    /// The steps taken so far (a hard reference update comes every τ of them).
    public var stepsTaken: Int { step }

    /// The TR-DPO reference ensemble (nil for the behavior and initial references).
    public var reference: LoRAEnsemble? { referenceEnsemble }

    /// Continues from a saved point: `steps` taken and, for the TR-DPO references, the reference ensemble then.
    public func restore(stepsTaken steps: Int, reference: LoRAEnsemble?) {
        precondition((reference == nil) == (referenceEnsemble == nil), "a reference ensemble exactly when the reference mode has one")
        step = steps
        referenceEnsemble = reference
    }

    /// Takes one optimisation step of every member on `examples` (the batch).
    public func step(_ examples: [TrainingExample]) -> StepReport {
        precondition(!examples.isEmpty)
        step += 1
        let micro = microBatches(examples)
        let reference = referenceLogProbs(examples, micro)
        let scale = 1 / Double(examples.count)
        var loss = 0.0, correct = 0.0, margin = 0.0, kl = 0.0, norms = 0.0
        for member in ensemble.members {
            gradients.storage.zero()
            for (batch, range) in micro {
                let acts = arena(for: batch)
                let policy = weights.trainingForward(batch, adapter: member.parameters, activations: acts, pool: pool, profile: profile,
                                                     checkpoint: checkpoint)
                var d: [PairLogProbGradients] = []
                for (i, p) in policy.enumerated() {
                    let example = examples[range.lowerBound + i]
                    let r = settings.loss.evaluate(policy: p, reference: reference[range.lowerBound + i], beta: settings.beta)
                    loss += r.loss
                    correct += r.logit > 0 ? 1 : 0
                    margin += settings.beta * r.logit
                    kl += ((example.behavior.chosen - p.chosen) + (example.behavior.rejected - p.rejected)) / 2
                    d.append(PairLogProbGradients(chosen: Float(r.dChosen * scale), rejected: Float(r.dRejected * scale)))
                }
                weights.trainingBackward(batch, dLogProbs: d, lora: member.parameters, gradients: gradients, activations: acts,
                                         pool: pool, profile: profile, checkpoint: checkpoint)
            }
            norms += timed(profile, .optimizer) {
                member.optimizer.update(member.parameters, gradients: gradients, configuration: settings.optimizer)
            }
        }
        updateReference()
        let n = Double(examples.count * ensemble.members.count)
        return StepReport(step: step, loss: loss / n, rewardAccuracy: correct / n, margin: margin / n,
                          klToBehavior: kl / n, gradientNorm: norms / Double(ensemble.members.count))
    }

    /// The phase: `settings.steps` steps on batches of `examples` in `BatchSchedule` order, `onStep` after
    /// each; stops early when `shouldStop` answers true before a step. Returns the reports of the steps taken.
    public func run(_ examples: [TrainingExample], shouldStop: () -> Bool = { false },
                    onStep: (StepReport) -> Void = { _ in }) -> [StepReport] {
        var schedule = BatchSchedule(count: examples.count, batchSize: settings.batchSize, seed: settings.seed)
        var reports: [StepReport] = []
        for _ in 0..<settings.steps {
            if shouldStop() { break }
            let report = step(schedule.next().map { examples[$0] })
            reports.append(report)
            onStep(report)
        }
        return reports
    }

    // MARK: - Reference log-probs

    private func referenceLogProbs(_ examples: [TrainingExample], _ micro: [(TrainingBatch, Range<Int>)]) -> [PairLogProbs] {
        let adapter: (any LinearAdapter)?
        switch settings.reference {
        case .behavior: return examples.map(\.behavior)
        case .initial: adapter = nil
        case .softUpdate, .hardUpdate: adapter = referenceEnsemble!.merged()
        }
        return micro.flatMap { batch, _ in
            weights.trainingForward(batch, adapter: adapter, activations: arena(for: batch), pool: pool, profile: profile,
                                    checkpoint: checkpoint)
        }
    }

    /// TR-DPO: soft (EMA of every member's A and B) or hard (copy every τ steps) reference updates.
    private func updateReference() {
        guard let reference = referenceEnsemble else { return }
        switch settings.reference {
        case let .softUpdate(alpha):
            let a = Float(alpha)
            for (r, m) in zip(reference.members, ensemble.members) {
                let rp = r.parameters.storage.pointer, mp = m.parameters.storage.pointer
                for i in 0..<ensemble.layout.count { rp[i] = a * mp[i] + (1 - a) * rp[i] }
            }
        case let .hardUpdate(tau) where step % tau == 0:
            referenceEnsemble = ensemble.copy()
        default: break
        }
    }

    // MARK: - Micro-batches and the arena

    /// Consecutive pairs grouped so each group has about `microBatchRows` rows (at least one pair each).
    private func microBatches(_ examples: [TrainingExample]) -> [(TrainingBatch, Range<Int>)] {
        var groups: [(TrainingBatch, Range<Int>)] = []
        var start = 0, rows = 0
        for (i, e) in examples.enumerated() {
            let r = e.pair.prompt.count + e.pair.chosen.count + e.pair.rejected.count - 2
            if i > start && rows + r > settings.microBatchRows {
                groups.append((TrainingBatch(pairs: examples[start..<i].map(\.pair)), start..<i))
                start = i
                rows = 0
            }
            rows += r
        }
        groups.append((TrainingBatch(pairs: examples[start...].map(\.pair)), start..<examples.count))
        return groups
    }

    /// The activation arena, grown when a micro-batch needs more room (the one made with the trainer fits any
    /// micro-batch of pairs no longer than `microBatchRows`).
    private func arena(for batch: TrainingBatch) -> TrainingActivations {
        if let a = activations, a.maxRows >= batch.rowCount, a.maxLogitRows >= batch.logitRowCount { return a }
        let rows = max(batch.rowCount, activations?.maxRows ?? 0)
        let logits = max(batch.logitRowCount, activations?.maxLogitRows ?? 0)
        activations = nil  // free the old arena before allocating the new one
        let a = Self.arena(config: weights.config, ensemble: ensemble, rows: rows, logitRows: logits)
        activations = a
        return a
    }

    /// An arena with room for the merged ensemble (rank E·r), which the TR-DPO reference forward runs with.
    private static func arena(config: LlamaConfig, ensemble: LoRAEnsemble, rows: Int, logitRows: Int) -> TrainingActivations {
        TrainingActivations(config: config, adapterRank: ensemble.layout.lora.rank * ensemble.members.count,
                            targets: ensemble.layout.lora.targets, maxRows: rows, maxLogitRows: logitRows)
    }
}

/// The order in which a phase visits its pairs: shuffled with a seed, reshuffled every pass.
public struct BatchSchedule: Sendable {
    public let count: Int
    public let batchSize: Int
    private var order: [Int] = []
    private var position = 0
    private var generator: SplitMix64

    public init(count: Int, batchSize: Int, seed: UInt64) {
        precondition(count > 0 && batchSize > 0)
        self.count = count
        self.batchSize = batchSize
        generator = SplitMix64(seed: seed)
    }

    /// The indices of the next batch (min(batchSize, count) distinct pairs).
    public mutating func next() -> [Int] {
        var batch: [Int] = []
        while batch.count < min(batchSize, count) {
            if position == order.count {
                order = Array(0..<count)
                for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, Int(generator.next() % UInt64(i + 1))) }
                position = 0
            }
            if !batch.contains(order[position]) { batch.append(order[position]) }
            position += 1
        }
        return batch
    }
}

