// ExperimentRun: the paper's loop in one process, one step at a time. Each step samples a pair per prompt
// (from the policy at the start of the step's annotation block), labels the pairs with the judge, and trains
// the ensemble one step; every `eval_every` steps the greedy replies to the held-out prompts are judged
// against the initial policy's by the referee (the rubric in `proxima experiment`, whatever labels the pairs). A run can be saved after any step and continued from there with the same
// numbers (`checkpoint()`, `init(... resumingFrom:)`): the grid runner does so after every step.

import Foundation
import Inference
import Learning
import Llama
import ProximaCore
import ProximaNumerics
import Sampling
import Service

/// What one step did and measured: a line of a run's `steps.jsonl`.
public struct StepRecord: Codable, Sendable, Equatable {
    public var step: Int
    public var pairs: Int
    public var ties: Int
    public var identical: Int
    public var sampleSeconds: Double
    public var trainSeconds: Double?
    public var loss: Double?
    public var rewardAccuracy: Double?
    public var margin: Double?
    public var klToBehavior: Double?
    public var evaluation: Evaluation?

    /// The greedy evaluation against the initial policy.
    public struct Evaluation: Codable, Sendable, Equatable {
        public var winRate: Double
        /// Per held-out prompt: `w` (win), `t` (tie), `l` (loss), in the prompts' order.
        public var outcomes: String
        public var finished: Double
        public var words: Double
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case outcomes, finished, words, seconds
            case winRate = "win_rate"
        }
    }

    enum CodingKeys: String, CodingKey {
        case step, pairs, ties, identical, loss, margin, evaluation
        case sampleSeconds = "sample_seconds", trainSeconds = "train_seconds", rewardAccuracy = "reward_accuracy"
        case klToBehavior = "kl_to_behavior"
    }
}

public final class ExperimentRun: @unchecked Sendable {
    public let settings: ExperimentSettings
    /// Names the run's evaluated policies in the evaluator's cache (runs may share an evaluator).
    public let name: String
    public private(set) var step = 0
    private let model: ModelBundle
    private let pool: ComputePool
    private let trainPrompts: [String]
    private let evaluator: GreedyEvaluator
    private let initialReplies: [GreedyReply]
    /// Labels the sampled pairs (the run's `simulator`).
    private let judge: any PreferenceSimulator
    /// Judges the evaluations: the same yardstick for every run, whatever labels its pairs.
    private let referee: any PreferenceSimulator
    private let schedule: AnnotationSchedule
    private let members: LoRAEnsemble
    private let trainer: PhaseTrainer
    private let decoder: BatchDecoder
    private var generator: SeededGenerator
    /// The members' parameters when the current block began (nil in the first block: the initial policy samples).
    private var blockStart: [LoRATensors]?

    /// A run from step 0, or from `checkpoint` (made by a run of the same settings).
    public init(name: String = "run", settings: ExperimentSettings, model: ModelBundle, pool: ComputePool, trainPrompts: [String], evaluator: GreedyEvaluator,
                initialReplies: [GreedyReply], judge: any PreferenceSimulator, referee: any PreferenceSimulator, resumingFrom checkpoint: RunCheckpoint? = nil) {
        precondition(settings.problem == nil && !trainPrompts.isEmpty && initialReplies.count == evaluator.prompts.count)
        self.settings = settings
        self.name = name
        self.model = model
        self.pool = pool
        self.trainPrompts = trainPrompts
        self.evaluator = evaluator
        self.initialReplies = initialReplies
        self.judge = judge
        self.referee = referee
        schedule = settings.annotationSchedule!
        let layout = LoRALayout(model: model.weights.config, lora: settings.phase.lora)
        members = checkpoint?.members ?? LoRAEnsemble(layout: layout, memberCount: settings.phase.ensembleSize, seed: settings.phase.seed)
        trainer = PhaseTrainer(weights: model.weights, ensemble: members, settings: settings.phase, pool: pool)
        decoder = BatchDecoder(config: model.weights.config, pool: pool, maxRows: 2 * settings.phase.batchSize + 256)
        generator = SeededGenerator(seed: settings.phase.seed)
        if let c = checkpoint {
            step = c.step
            generator.words = c.generator
            trainer.restore(stepsTaken: c.trainerSteps, reference: c.reference)
            blockStart = c.blockStart
        }
    }

    public var isFinished: Bool { step >= settings.steps }

    /// The run as it stands, to continue later. Call between steps.
    public func checkpoint() -> RunCheckpoint {
        let nextStepResamples = step >= settings.steps || schedule.annotates(at: step + 1)
        return RunCheckpoint(step: step, generator: generator.words, members: members, trainerSteps: trainer.stepsTaken,
                             reference: trainer.reference, blockStart: nextStepResamples ? nil : blockStart)
    }

    /// Samples, labels and trains the next step, and evaluates when it is due.
    public func nextStep() async throws -> StepRecord {
        precondition(!isFinished)
        step += 1
        let t0 = Date()
        if schedule.annotates(at: step) { blockStart = step == 1 ? nil : members.members.map { $0.parameters.copy() } }
        let behavior = blockStart.map { LowRankAdapter(members: $0) }
        let pairs = try PairSampler.sample(drawing: settings.phase.batchSize, from: trainPrompts, model: model, decoder: decoder,
                                           adapter: behavior, maxTokens: settings.maxTokens, generator: &generator)
        var examples: [TrainingExample] = []
        var ties = 0, identical = 0
        var judgeGenerator = SeededGenerator(seed: settings.phase.seed &+ UInt64(step) &* 0x9E37_79B9_7F4A_7C15)
        for pair in pairs {
            let a = pair.a, b = pair.b
            if pair.identical { identical += 1; continue }
            let verdict = try await judge.judge(prompt: pair.prompt, a: pair.candidate(a, model), b: pair.candidate(b, model), rng: &judgeGenerator)
            guard verdict.choice != .tie else { ties += 1; continue }
            let (w, l) = verdict.choice == .a ? (a, b) : (b, a)
            if let example = TrainingExample(prompt: a.prompt, chosen: w.tokens.map(\.id), chosenLogprobs: w.tokens.map(\.logProb),
                                             rejected: l.tokens.map(\.id), rejectedLogprobs: l.tokens.map(\.logProb),
                                             contextLength: model.weights.config.contextLength) {
                examples.append(example)
            }
        }
        var record = StepRecord(step: step, pairs: examples.count, ties: ties, identical: identical, sampleSeconds: Date().timeIntervalSince(t0))
        if !examples.isEmpty {
            let t1 = Date()
            let report = trainer.step(examples)
            record.trainSeconds = Date().timeIntervalSince(t1)
            record.loss = report.loss
            record.rewardAccuracy = report.rewardAccuracy
            record.margin = report.margin
            record.klToBehavior = report.klToBehavior
        }
        if step % settings.evalEvery == 0 || step == settings.steps { record.evaluation = try await evaluate() }
        return record
    }

    private func evaluate() async throws -> StepRecord.Evaluation {
        let t0 = Date()
        let current = ServingPolicy(id: "\(name)/step-\(step)", weights: model.weights, ensemble: members)
        let replies = try evaluator.replies(of: current)
        let choices = try await evaluator.verdicts(replies, initialReplies, simulator: referee)
        let result = EvaluationResult(choices)
        let words = replies.map { Double($0.text.split(whereSeparator: \.isWhitespace).count) }.reduce(0, +) / Double(replies.count)
        return StepRecord.Evaluation(winRate: result.winRate, outcomes: String(choices.map { $0 == .a ? "w" : $0 == .b ? "l" : "t" }),
                                     finished: Double(replies.filter(\.finished).count) / Double(replies.count), words: words,
                                     seconds: Date().timeIntervalSince(t0))
    }
}
