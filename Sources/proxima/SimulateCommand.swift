// SimulateCommand: `proxima simulate` — drives a running server the way users would: chat requests on
// prompts from a file (two visible choices each), a preference simulator's verdict posted to /v1/feedback,
// and, every time the serving version changes, the greedy win rate of that version against the initial one
// on held-out prompts.

import ArgumentParser
import Foundation
import ProximaCore
import ProximaNumerics
import Sampling
import Service
import Simulators

struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Drive a running server with simulated users and report the win rate per learned version.")

    @Option(help: "The server's base URL.") var server = "http://127.0.0.1:8080"
    @Option(name: .customLong("api-key")) var apiKey: String?
    @Option(help: "Prompts to chat with (JSON lines of {\"prompt\": …}).") var prompts: String?
    @Option(name: .customLong("eval-prompts"), help: "Held-out prompts for the win rate (default: the built-in prompts/dev.jsonl).") var evalPrompts: String?
    @Option(name: .customLong("eval-count"), help: "How many held-out prompts to evaluate on.") var evalCount = 200
    @Option var requests = 1600
    @Option var concurrency = 8
    @Option(help: "The judge that labels the pairs: rubric, llm:<gguf> or remote:<url>[?model=<name>] (win rates are always the rubric's).")
    var simulator = "rubric"
    @Option(name: .customLong("max-tokens")) var maxTokens = 96
    @Option var temperature = 1.0
    @Option var seed: UInt64 = 0
    @Option(help: "Write the per-version results here as JSON.") var out: String?
    @Option(name: .customLong("eval-every"), help: "Evaluate every k-th new serving version (the final one always).") var evalEvery = 1
    @Flag(name: .customLong("wait-for-phases"),
          help: "Hold traffic while a phase is queued or running (annotate, then train, as in the paper's loop; needs the admin routes).")
    var waitForPhases = false

    func validate() throws {
        do { _ = try JudgeSpec(parsing: simulator) } catch { throw ValidationError("--simulator: \(error)") }
        guard requests > 0, concurrency > 0, evalCount > 0, evalEvery > 0 else {
            throw ValidationError("--requests, --concurrency, --eval-count and --eval-every must be positive")
        }
    }

    func run() async throws {
        guard let base = URL(string: server) else { throw CLIError("--server is not a URL") }
        let client = APIClient(base: base, apiKey: apiKey)
        let train = try PromptSet.load(path: prompts, fallback: PromptSet.train)
        let dev = Array(try PromptSet.load(path: evalPrompts, fallback: PromptSet.dev).prefix(evalCount))
        let judge = try RubricSimulator()   // the referee of the win rates
        let pool = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount)
        defer { pool.shutdown() }
        let labeller = try await ExperimentCommand.readyJudge(simulator, pool: pool)
        try await client.waitUntilReady(timeout: .seconds(120))

        let initial = try await evaluate(client, dev)
        say("initial version \(initial.version): \(initial.summary)")
        let tracker = SimulationTracker(initial: initial)
        var rng = SeededGenerator(seed: seed)
        let work = (0..<requests).map { _ in (prompt: train[Int(rng.next() % UInt64(train.count))], seed: rng.next()) }
        let next = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<concurrency {
                group.addTask {
                    while let i = await next.take(below: work.count) {
                        if waitForPhases { try await client.waitWhilePhaseRuns() }
                        let (prompt, requestSeed) = work[i]
                        let c = try await client.chat(prompt: prompt, n: 2, temperature: temperature, maxTokens: maxTokens, seed: requestSeed)
                        guard c.choices.count == 2, let pair = c.pairID else { throw CLIError("the server did not return a pair (is pairing on?)") }
                        var coins = SeededGenerator(seed: requestSeed)
                        let verdict = try await labeller.judge(prompt: prompt, a: Candidate(text: c.choices[0].text, finished: c.choices[0].finishReason == "stop"),
                                                               b: Candidate(text: c.choices[1].text, finished: c.choices[1].finishReason == "stop"), rng: &coins)
                        let choice: Any = verdict.choice == .a ? 0 : verdict.choice == .b ? 1 : "tie"
                        try await client.choose(pairID: pair, choice: choice, eventID: "simulate-\(c.id)")
                        if let version = await tracker.observe(c.policyVersion, every: evalEvery) {
                            let result = try await evaluate(client, dev)
                            await tracker.record(result, requestedAt: i + 1)
                            say("after \(i + 1) requests: version \(result.version) (first seen as \(version)): \(result.summary), win rate vs \(initial.version) \(String(format: "%.3f", result.winRate(against: initial, judge: judge)))")
                        }
                    }
                }
            }
            try await group.waitForAll()
        }
        let final = try await evaluate(client, dev)
        await tracker.record(final, requestedAt: requests)
        say("final version \(final.version): \(final.summary), win rate vs \(initial.version) \(String(format: "%.3f", final.winRate(against: initial, judge: judge)))")
        if let out { try await tracker.write(to: out, judge: judge) }
    }

    /// Greedy replies of the serving version to every held-out prompt.
    private func evaluate(_ client: APIClient, _ prompts: [String]) async throws -> Evaluation {
        var replies = [APIClient.Choice](repeating: .init(text: "", finishReason: ""), count: prompts.count)
        var versions = Set<String>()
        try await withThrowingTaskGroup(of: (Int, APIClient.Completion).self) { group in
            var nextIndex = 0
            func add() {
                let i = nextIndex
                nextIndex += 1
                group.addTask { (i, try await client.chat(prompt: prompts[i], n: 1, temperature: 0, maxTokens: maxTokens, seed: 0)) }
            }
            for _ in 0..<min(concurrency, prompts.count) { add() }
            for try await (i, c) in group {
                replies[i] = c.choices[0]
                versions.insert(c.policyVersion)
                if nextIndex < prompts.count { add() }
            }
        }
        return Evaluation(version: versions.sorted().joined(separator: "+"), prompts: prompts, replies: replies)
    }
}

/// The greedy replies of one version on the held-out prompts.
struct Evaluation: Sendable {
    var version: String
    var prompts: [String]
    var replies: [APIClient.Choice]

    var summary: String {
        let finished = Double(replies.filter { $0.finishReason == "stop" }.count) / Double(replies.count)
        let words = Double(replies.map { $0.text.split(whereSeparator: \.isWhitespace).count }.reduce(0, +)) / Double(replies.count)
        let score = prompts.indices.map { RubricSimulator.score(prompt: prompts[$0], response: replies[$0].text, finished: replies[$0].finishReason == "stop") }.reduce(0, +) / Double(prompts.count)
        return String(format: "mean rubric score %.3f, finished %.1f%%, %.0f words", score, 100 * finished, words)
    }

    /// Wins count 1 and ties ½, judged by `judge` (a: this version, b: `other`).
    func winRate(against other: Evaluation, judge: RubricSimulator) -> Double {
        var total = 0.0
        for i in prompts.indices {
            let v = judge.prefer(prompt: prompts[i], a: Candidate(text: replies[i].text, finished: replies[i].finishReason == "stop"),
                                 b: Candidate(text: other.replies[i].text, finished: other.replies[i].finishReason == "stop"), coin: 0.5)
            total += v.choice == .a ? 1 : v.choice == .tie ? 0.5 : 0
        }
        return total / Double(prompts.count)
    }
}

/// Which versions have been seen and evaluated.
actor SimulationTracker {
    let initial: Evaluation
    private var seen: Set<String>
    private var evaluations: [(requests: Int, evaluation: Evaluation)] = []

    init(initial: Evaluation) {
        self.initial = initial
        seen = [initial.version]
    }

    /// Returns `version` the first time it is seen if it is the every-th new version (1st, 1+every-th, …).
    func observe(_ version: String, every: Int) -> String? {
        guard seen.insert(version).inserted else { return nil }
        return (seen.count - 1) % every == 0 ? version : nil
    }

    func record(_ e: Evaluation, requestedAt: Int) { evaluations.append((requestedAt, e)) }

    func write(to path: String, judge: RubricSimulator) throws {
        let rows: [[String: Any]] = evaluations.map { r in
            ["requests": r.requests, "version": r.evaluation.version, "win_rate_vs_initial": r.evaluation.winRate(against: initial, judge: judge),
             "summary": r.evaluation.summary]
        }
        let data = try JSONSerialization.data(withJSONObject: ["initial": initial.version, "initial_summary": initial.summary, "versions": rows],
                                              options: [.prettyPrinted, .sortedKeys])
        try data.write(to: URL(fileURLWithPath: path))
    }
}

/// Hands out indices 0..<n once each.
actor Counter {
    private var next = 0
    func take(below n: Int) -> Int? {
        guard next < n else { return nil }
        defer { next += 1 }
        return next
    }
}
