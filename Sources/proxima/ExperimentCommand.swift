// ExperimentCommand: `proxima experiment` — the paper's loop in one process, for checking the learner without
// a server: every step samples a pair per prompt (from the current policy, or with an annotation frequency F
// from the policy at the start of the step's block), labels the pairs with the rubric simulator, and trains
// the ensemble one step; every few steps the greedy replies to the held-out prompts are judged against the
// initial policy's.

import ArgumentParser
import Foundation
import Inference
import Learning
import Llama
import ModelFiles
import ProximaCore
import ProximaNumerics
import Sampling
import Service
import Simulators
import Tokenizer

struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run online preference learning in-process with the rubric simulator and report win rates.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("train-prompts")) var trainPrompts: String?
    @Option(name: .customLong("dev-prompts")) var devPrompts: String?
    @Option var steps = 100
    @Option(name: .customLong("prompts-per-step")) var promptsPerStep = 16
    @Option(name: .customLong("max-tokens")) var maxTokens = 96
    @Option(name: .customLong("lr")) var learningRate = 2e-4
    @Option var beta = 0.1
    @Option var ensemble = 5
    @Option var rank = 16
    @Option(help: "Annotation frequency F, 1...steps: the pairs are sampled F times, each block of steps from the policy at its start (1: offline; default: steps, on-policy).")
    var frequency: Int?
    @Option(help: "behavior (BPO), initial (DPO with a fixed reference), soft:<alpha> or hard:<tau> (TR-DPO).") var reference = "behavior"
    @Option(help: "dpo, ipo or slic.") var loss = "dpo"
    @Option(name: .customLong("eval-every")) var evalEvery = 25
    @Option(name: .customLong("eval-prompts")) var evalPrompts = 200
    @Option var seed: UInt64 = 0
    @Option(name: .customLong("json-out"), help: "Write every step's numbers here as JSON lines.") var jsonOut: String?

    func validate() throws {
        if steps < 1 { throw ValidationError("--steps must be at least 1") }
        if let problem = AnnotationSchedule.problem(steps: steps, frequency: frequency ?? steps) {
            throw ValidationError("--frequency: \(problem)")
        }
    }

    func run() async throws {
        let pool = ComputePool(threads: modelOptions.threadCount)
        defer { pool.shutdown() }
        let model = try modelOptions.load(pool: pool)
        let train = try PromptSet.load(path: trainPrompts, fallback: PromptSet.train)
        let dev = Array(try PromptSet.load(path: devPrompts, fallback: PromptSet.dev).prefix(evalPrompts))
        // The learner's phase settings with the experiment's: one step per loop step, every prompt's pair in it.
        let overrides: JSONObject = ["learning_rate": .number(learningRate), "beta": .number(beta), "ensemble": .number(Double(ensemble)),
                                     "rank": .number(Double(rank)), "batch_size": .number(Double(promptsPerStep)),
                                     "seed": .number(Double(seed)), "loss": .string(loss), "reference": .string(reference)]
        let settings: PhaseSettings
        do { settings = try PhaseSettings().applying(overrides) } catch { throw CLIError(error.description) }
        let schedule = AnnotationSchedule(steps: steps, frequency: frequency ?? steps)!   // checked in validate()

        let layout = LoRALayout(model: model.weights.config, lora: settings.lora)
        let members = LoRAEnsemble(layout: layout, memberCount: ensemble, seed: seed)
        let trainer = PhaseTrainer(weights: model.weights, ensemble: members, settings: settings, pool: pool)
        let evaluator = GreedyEvaluator(model: model, pool: pool, lease: nil, prompts: dev, maxTokens: maxTokens)
        let decoder = BatchDecoder(config: model.weights.config, pool: pool, maxRows: 2 * promptsPerStep + 256)
        let initial = ServingPolicy(id: "initial", weights: model.weights)
        let started = Date()
        let initialReplies = try evaluator.replies(of: initial)
        say(String(format: "initial policy's greedy replies to %d prompts: %.0fs", dev.count, Date().timeIntervalSince(started)))
        let log = jsonOut.map { _ = FileManager.default.createFile(atPath: $0, contents: nil); return FileHandle(forWritingAtPath: $0)! }
        defer { try? log?.close() }
        var rng = SeededGenerator(seed: seed)
        var behavior: LowRankAdapter?   // the policy that samples: the merged ensemble at the start of the step's block
        let judge = try RubricSimulator()
        say("experiment: \(steps) steps × \(promptsPerStep) prompts, F=\(schedule.frequency), E=\(ensemble) r=\(rank) lr=\(learningRate) β=\(beta) \(loss) reference=\(settings.reference)")
        for step in 1...steps {
            let t0 = Date()
            if schedule.annotates(at: step) { behavior = step == 1 ? nil : members.merged() }
            var sequences: [GenerationSequence] = []
            var prompts: [String] = []
            for _ in 0..<promptsPerStep {
                let prompt = train[Int(rng.next() % UInt64(train.count))]
                prompts.append(prompt)
                let ids = try model.promptTokens(for: [ChatMessage(role: "user", content: prompt)])
                var p = GenerationParameters(sampling: SamplingParameters(temperature: 1), maxTokens: maxTokens,
                                             seed: rng.next(), stopTokens: model.stopTokens)
                let a = try GenerationSequence(prompt: ids, parameters: p, config: model.weights.config)
                p.seed = rng.next()
                sequences += [a, try GenerationSequence(prompt: ids, parameters: p, config: model.weights.config, leader: a)]
            }
            try decoder.run(sequences, weights: model.weights, adapter: behavior, prefillBudget: 256)
            var examples: [TrainingExample] = []
            var ties = 0, identical = 0
            for (i, prompt) in prompts.enumerated() {
                let a = sequences[2 * i], b = sequences[2 * i + 1]
                if a.tokens.map(\.id) == b.tokens.map(\.id) { identical += 1; continue }
                func text(_ s: GenerationSequence) -> Candidate {
                    Candidate(text: model.tokenizer.decode(s.visibleTokens.map(\.id)), finished: s.finishReason == .stop)
                }
                let verdict = judge.prefer(prompt: prompt, a: text(a), b: text(b), coin: 0.5)
                guard verdict.choice != .tie else { ties += 1; continue }
                let (w, l) = verdict.choice == .a ? (a, b) : (b, a)
                if let example = TrainingExample(prompt: a.prompt, chosen: w.tokens.map(\.id), chosenLogprobs: w.tokens.map(\.logProb),
                                                 rejected: l.tokens.map(\.id), rejectedLogprobs: l.tokens.map(\.logProb),
                                                 contextLength: model.weights.config.contextLength) {
                    examples.append(example)
                }
            }
            let sampled = Date().timeIntervalSince(t0)
            var line = String(format: "step %3d  sample %5.1fs", step, sampled)
            var record: [String: Any] = ["step": step, "pairs": examples.count, "ties": ties, "identical": identical, "sample_seconds": sampled]
            if !examples.isEmpty {
                let t1 = Date()
                let report = trainer.step(examples)
                let trained = Date().timeIntervalSince(t1)
                line += String(format: "  train %5.1fs  pairs %2d  loss %.4f  acc %.2f  margin %+.3f  kl %+.2f", trained, examples.count,
                               report.loss, report.rewardAccuracy, report.margin, report.klToBehavior)
                record.merge(["loss": report.loss, "reward_accuracy": report.rewardAccuracy, "margin": report.margin,
                              "kl_to_behavior": report.klToBehavior, "train_seconds": trained]) { $1 }
            }
            if step % evalEvery == 0 || step == steps {
                let t2 = Date()
                let current = ServingPolicy(id: "step-\(step)", weights: model.weights, ensemble: members)
                let replies = try evaluator.replies(of: current)
                let result = try await evaluator.compare(replies, initialReplies, simulator: judge)
                let evaluated = Date().timeIntervalSince(t2)
                let finished = Double(replies.filter(\.finished).count) / Double(replies.count)
                let words = replies.map { Double($0.text.split(whereSeparator: \.isWhitespace).count) }.reduce(0, +) / Double(replies.count)
                line += String(format: "  | win rate vs initial %.3f (finished %.0f%%, %.0f words; %.0fs)", result.winRate, 100 * finished, words, evaluated)
                record.merge(["win_rate": result.winRate, "eval_finished": finished, "eval_words": words, "eval_seconds": evaluated]) { $1 }
            }
            say(line)
            if let data = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) { log?.write(data + Data("\n".utf8)) }
        }
        say(String(format: "experiment: %d steps in %.1f min", steps, Date().timeIntervalSince(started) / 60))
    }
}
