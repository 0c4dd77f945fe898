// JudgesCommand: `proxima judges` — how well each judge agrees with the rubric on a fixed set of dev pairs:
// two samples (temperature 1, a fixed seed) from the model for each of the first N held-out prompts, judged by
// the rubric and by every --simulator given.

import ArgumentParser
import Experiments
import Foundation
import Inference
import ProximaCore
import ProximaNumerics
import Sampling
import Service
import Simulators

struct JudgesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "judges",
        abstract: "Measure each judge's agreement with the rubric on a fixed set of pairs sampled for the held-out prompts.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("simulator"), help: "A judge to measure (repeatable): llm:<gguf> or remote:<url>[?model=<name>].")
    var simulators: [String] = []
    @Option(name: .customLong("dev-prompts")) var devPrompts: String?
    @Option(help: "How many held-out prompts (a pair each).") var pairs = 200
    @Option(name: .customLong("max-tokens")) var maxTokens = 96
    @Option var seed: UInt64 = 0

    func validate() throws {
        if simulators.isEmpty { throw ValidationError("name at least one --simulator to compare with the rubric") }
        for s in simulators {
            do { _ = try JudgeSpec(parsing: s) } catch { throw ValidationError("--simulator: \(error)") }
        }
        if pairs < 1 { throw ValidationError("--pairs must be at least 1") }
    }

    func run() async throws {
        let pool = ComputePool(threads: modelOptions.threadCount)
        defer { pool.shutdown() }
        var judges: [any PreferenceSimulator] = []
        for s in simulators { judges.append(try await ExperimentCommand.readyJudge(s, pool: pool)) }
        let model = try modelOptions.load(pool: pool)
        let prompts = Array(try PromptSet.load(path: devPrompts, fallback: PromptSet.dev).prefix(pairs))
        var generator = SeededGenerator(seed: seed)
        let decoder = BatchDecoder(config: model.weights.config, pool: pool, maxRows: 2 * 16 + 256)
        var sampled: [SampledPair] = []
        for start in stride(from: 0, to: prompts.count, by: 16) {
            sampled += try PairSampler.sample(Array(prompts[start..<min(prompts.count, start + 16)]), model: model, decoder: decoder,
                                              adapter: nil, maxTokens: maxTokens, generator: &generator)
        }
        let rubric = try RubricSimulator()
        var coins = SeededGenerator(seed: seed)
        var reference: [Verdict.Choice] = []
        for p in sampled { reference.append(try await rubric.judge(prompt: p.prompt, a: p.candidate(p.a, model), b: p.candidate(p.b, model), rng: &coins).choice) }
        let decided = reference.filter { $0 != .tie }.count
        say("\(sampled.count) pairs from \(model.name) (seed \(seed)); the rubric prefers one answer in \(decided) and ties \(sampled.count - decided)")
        say("judge | agrees with the rubric (of its \(decided) decided pairs) | opposite | tie | ties where the rubric ties | seconds")
        for judge in judges {
            let started = Date()
            var agree = 0, opposite = 0, tie = 0, bothTie = 0
            for (p, r) in zip(sampled, reference) {
                let v = try await judge.judge(prompt: p.prompt, a: p.candidate(p.a, model), b: p.candidate(p.b, model), rng: &coins).choice
                switch (r, v) {
                case (.tie, .tie): bothTie += 1
                case (.tie, _): break
                case (_, .tie): tie += 1
                default: if r == v { agree += 1 } else { opposite += 1 }
                }
            }
            func share(_ n: Int) -> String { String(format: "%.3f", Double(n) / Double(max(decided, 1))) }
            say("\(judge.name) | \(share(agree)) | \(share(opposite)) | \(share(tie)) | \(bothTie) of \(sampled.count - decided) | "
                + String(format: "%.0f", Date().timeIntervalSince(started)))
        }
    }
}
