// PhaseTrainer: the training steps of one BPO phase on an ensemble. Every member sees the same batch and
// the same reference log-probs, computes its own loss, and takes its own clipped AdamW step. Pure: no IO,
// no clock; the caller supplies the pairs, the pool and a checkpoint to yield the cores at.

import Llama
import ProximaNumerics

/// What one step measured (means over the batch and over members).
public struct StepReport: Codable, Sendable, Equatable {
    public var step: Int
    public var loss: Double
    /// Share of pairs whose implicit reward ranks chosen above rejected (h > 0); for KTO, share of responses
    /// whose reward r − z₀ lies on their label's side of 0.
    public var rewardAccuracy: Double
    /// Mean β·h; for KTO, mean β·(r − z₀) signed by label (positive when it agrees).
    public var margin: Double
    /// Mean over responses of log π_β(y) − log π_θ(y), an estimate of KL(π_β ‖ π_θ) per response.
    public var klToBehavior: Double
    /// Gradient L2 norm before clipping, mean over members.
    public var gradientNorm: Double
    /// KTO's z₀ this step (nil for the pairwise losses).
    public var ktoReferencePoint: Double? = nil

    enum CodingKeys: String, CodingKey {
        case step, loss, margin
        case rewardAccuracy = "reward_accuracy", klToBehavior = "kl_to_behavior", gradientNorm = "gradient_norm"
        case ktoReferencePoint = "kto_reference_point"
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

    /// Takes one optimisation step of every member on `examples` (the batch): pairs for a pairwise loss; pairs
    /// and rated responses for KTO.
    public func step(_ examples: [TrainingExample]) -> StepReport {
        step += 1
        let batch = prepare(examples)
        var totals = Totals(), norms = 0.0
        for member in ensemble.members {
            gradients.storage.zero()
            totals.add(accumulate(member, batch))
            norms += timed(profile, .optimizer) {
                member.optimizer.update(member.parameters, gradients: gradients, configuration: settings.optimizer)
            }
        }
        updateReference()
        let members = Double(ensemble.members.count)
        let terms = Double(batch.terms) * members
        return StepReport(step: step, loss: totals.loss / terms, rewardAccuracy: totals.correct / terms, margin: totals.margin / terms,
                          klToBehavior: totals.kl / (Double(examples.count) * members), gradientNorm: norms / members,
                          ktoReferencePoint: settings.loss.isPairwise ? nil : batch.z0)
    }

    /// One member's mean loss on `examples` and its gradient, as a step computes them (nothing is updated).
    public func lossAndGradients(of member: LoRAMember, on examples: [TrainingExample]) -> (loss: Double, gradients: LoRATensors) {
        let batch = prepare(examples)
        gradients.storage.zero()
        let totals = accumulate(member, batch)
        return (totals.loss / Double(batch.terms), gradients.copy())
    }

    /// A step's batch, ready for every member: its micro-batches, the reference log-prob of every response (in
    /// the flat per-response order), where each example's responses start in that order, and KTO's z₀.
    private struct PreparedBatch {
        var examples: [TrainingExample]
        var micro: [(TrainingBatch, Range<Int>)]
        var reference: [Double]
        var offsets: [Int]
        var z0: Double
        /// What the loss averages over: pairs for a pairwise loss, responses for KTO.
        var terms: Int
    }

    private struct Totals {
        var loss = 0.0, correct = 0.0, margin = 0.0, kl = 0.0
        mutating func add(_ o: Totals) { loss += o.loss; correct += o.correct; margin += o.margin; kl += o.kl }
    }

    private func prepare(_ examples: [TrainingExample]) -> PreparedBatch {
        precondition(!examples.isEmpty)
        precondition(!settings.loss.isPairwise || examples.allSatisfy { $0.label == .preference }, "a pairwise loss trains on pairs")
        let micro = microBatches(examples.map(\.group))
        let reference = referenceLogProbs(examples, micro)
        var offsets = [0]
        for e in examples { offsets.append(offsets.last! + e.responses.count) }
        let pairwise = settings.loss.isPairwise
        return PreparedBatch(examples: examples, micro: micro, reference: reference, offsets: offsets,
                             z0: pairwise ? 0 : ktoReferencePoint(examples, reference), terms: pairwise ? examples.count : offsets.last!)
    }

    /// Adds `member`'s gradient of the batch's mean loss to `gradients`; returns the sums the report averages.
    private func accumulate(_ member: LoRAMember, _ b: PreparedBatch) -> Totals {
        var totals = Totals()
        let scale = 1 / Double(b.terms)
        for (batch, range) in b.micro {
            let acts = arena(for: batch)
            let policy = weights.trainingForwardSequences(batch, adapter: member.parameters, activations: acts, pool: pool,
                                                          profile: profile, checkpoint: checkpoint).map(\.logProb)
            var d: [Float] = []
            for e in range {
                let example = b.examples[e]
                let local = b.offsets[e] - b.offsets[range.lowerBound], global = b.offsets[e]
                for k in example.responses.indices {
                    totals.kl += (example.behavior[k] - policy[local + k]) / Double(example.responses.count)
                }
                if settings.loss.isPairwise {
                    let p = PairLogProbs(chosen: policy[local], rejected: policy[local + 1], chosenTokens: example.responses[0].count,
                                         rejectedTokens: example.responses[1].count)
                    let ref = PairLogProbs(chosen: b.reference[global], rejected: b.reference[global + 1],
                                           chosenTokens: p.chosenTokens, rejectedTokens: p.rejectedTokens)
                    let r = settings.loss.evaluate(policy: p, reference: ref, beta: settings.beta)
                    totals.loss += r.loss
                    totals.correct += r.logit > 0 ? 1 : 0
                    totals.margin += settings.beta * r.logit
                    d += [Float(r.dChosen * scale), Float(r.dRejected * scale)]
                } else {
                    for (k, desirable) in example.desirability.enumerated() {
                        let t = KTOLoss.evaluate(policy: policy[local + k], reference: b.reference[global + k], desirable: desirable,
                                                 referencePoint: b.z0, beta: settings.beta, desirableWeight: settings.desirableWeight,
                                                 undesirableWeight: settings.undesirableWeight)
                        totals.loss += t.loss
                        totals.correct += (desirable ? t.reward > 0 : t.reward < 0) ? 1 : 0
                        totals.margin += settings.beta * (desirable ? t.reward : -t.reward)
                        d.append(Float(t.dPolicy * scale))
                    }
                }
            }
            weights.trainingBackward(batch, dSequences: d, lora: member.parameters, gradients: gradients, activations: acts,
                                     pool: pool, profile: profile, checkpoint: checkpoint)
        }
        return totals
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

    /// The reference log-prob of every response, in the flat per-response order.
    private func referenceLogProbs(_ examples: [TrainingExample], _ micro: [(TrainingBatch, Range<Int>)]) -> [Double] {
        switch settings.reference {
        case .behavior: return examples.flatMap(\.behavior)
        case .initial: return logProbs(micro, adapter: nil)
        case .softUpdate, .hardUpdate: return logProbs(micro, adapter: referenceEnsemble!.merged())
        }
    }

    /// Forward only: every response's log-prob under the base model plus `adapter`.
    private func logProbs(_ micro: [(TrainingBatch, Range<Int>)], adapter: (any LinearAdapter)?) -> [Double] {
        micro.flatMap { batch, _ in
            weights.trainingForwardSequences(batch, adapter: adapter, activations: arena(for: batch), pool: pool, profile: profile,
                                             checkpoint: checkpoint).map(\.logProb)
        }
    }

    /// KTO's z₀, an estimate of KL(π_θ ‖ π_ref) clipped at 0, made once per step with the ensemble's merged policy
    /// (the one served). With a model as reference (initial, TR), as the KTO paper does: each prompt with the next
    /// example's response (mismatched pairs), under the policy and the reference. With the behavior reference,
    /// which has log-probs only for the responses it sampled: the batch's own responses (matched), whose
    /// behavior log-probs are recorded (METHOD.md's documented variant).
    private func ktoReferencePoint(_ examples: [TrainingExample], _ reference: [Double]) -> Double {
        let merged = ensemble.merged()
        if case .behavior = settings.reference {
            return KTOLoss.referencePoint(policy: logProbs(microBatches(examples.map(\.group)), adapter: merged), reference: reference)
        }
        let n = examples.count
        let mismatched = examples.indices.compactMap { i -> PromptResponses? in
            let response = examples[(i + 1) % n].responses[0]
            guard n > 1, examples[i].prompt.count + response.count <= weights.config.contextLength else { return nil }
            return PromptResponses(prompt: examples[i].prompt, responses: [response])
        }
        guard !mismatched.isEmpty else { return 0 }
        let micro = microBatches(mismatched)
        let referenceAdapter: (any LinearAdapter)? = referenceEnsemble.map { $0.merged() }
        return KTOLoss.referencePoint(policy: logProbs(micro, adapter: merged), reference: logProbs(micro, adapter: referenceAdapter))
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

    /// Consecutive prompts grouped so each micro-batch has about `microBatchRows` rows (at least one prompt each).
    private func microBatches(_ groups: [PromptResponses]) -> [(TrainingBatch, Range<Int>)] {
        var batches: [(TrainingBatch, Range<Int>)] = []
        var start = 0, rows = 0
        for (i, g) in groups.enumerated() {
            let r = g.prompt.count + g.responses.map { $0.count - 1 }.reduce(0, +)
            if i > start && rows + r > settings.microBatchRows {
                batches.append((TrainingBatch(groups: Array(groups[start..<i])), start..<i))
                start = i
                rows = 0
            }
            rows += r
        }
        batches.append((TrainingBatch(groups: Array(groups[start...])), start..<groups.count))
        return batches
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

