// ExperimentCommand: `proxima experiment` — the paper's loop in one process, for checking the learner without a
// server (Experiments' ExperimentRun), one run or a grid of them. A single run prints a line per step; a grid
// (`--grid FILE --out DIR`) runs every variant × seed into DIR with a progress bar, resumes after a kill with
// `--resume`, and writes DIR/report.md with its plots (alone with `--report-only`).

import ArgumentParser
import Experiments
import Foundation
import ProximaApp
import ProximaCore
import Sampling
import ProximaNumerics
import Service
import Simulators

struct ExperimentCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "experiment",
        abstract: "Run online preference learning in-process (one run, or a grid of runs) and report win rates.")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("train-prompts")) var trainPrompts: String?
    @Option(name: .customLong("dev-prompts"), help: "The held-out prompts of the evaluations (default: the built-in dev set).") var devPrompts: String?
    @Option(help: "Training steps T (default 100).") var steps: Int?
    @Option(name: .customLong("prompts-per-step"), help: "Prompts per step, a pair each (default 16).") var promptsPerStep: Int?
    @Option(name: .customLong("max-tokens"), help: "New tokens per sample and evaluation reply (default 96).") var maxTokens: Int?
    @Option(name: .customLong("lr"), help: "Learning rate (default 2e-4).") var learningRate: Double?
    @Option(help: "β (default 0.1).") var beta: Double?
    @Option(help: "LoRA members E (default 5).") var ensemble: Int?
    @Option(help: "LoRA rank (default 16).") var rank: Int?
    @Option(help: "Annotation frequency F, 1...steps: the pairs are sampled F times, each block of steps from the policy at its start (1: offline; default: steps, on-policy).")
    var frequency: Int?
    @Option(help: "behavior (BPO), initial (a fixed reference), soft:<alpha> or hard:<tau> (TR-DPO).") var reference: String?
    @Option(help: "dpo, ipo, slic or kto (a pair as one desirable and one undesirable response).") var loss: String?
    @Option(help: "The judge that labels pairs and evaluations: rubric (default), llm:<gguf> or remote:<url>[?model=<name>].") var simulator: String?
    @Option(name: .customLong("eval-every")) var evalEvery: Int?
    @Option(name: .customLong("eval-prompts")) var evalPrompts: Int?
    @Option var seed: UInt64?
    @Option(name: .customLong("json-out"), help: "Write every step's numbers here as JSON lines.") var jsonOut: String?
    @Option(help: "A grid file (YAML: base, seeds, variants) to run instead of one run; needs --out.") var grid: String?
    @Option(help: "The grid's directory: its runs, checkpoints, report and plots.") var out: String?
    @Flag(help: "Continue the grid in --out: unfinished runs from their last step, finished ones kept.") var resume = false
    @Flag(name: .customLong("report-only"), help: "Write --out's report from what its runs recorded, running nothing.") var reportOnly = false
    @Option(help: "Run only these variants of the grid this time (comma-separated).") var only: String?

    /// The single run's settings from the options given (the defaults are ExperimentSettings').
    private var options: JSONObject {
        var o: JSONObject = [:]
        func put(_ key: ExperimentSettings.Key, _ value: JSONValue?) { if let value { o[key.rawValue] = value } }
        put(.steps, steps.map { .number(Double($0)) })
        put(.promptsPerStep, promptsPerStep.map { .number(Double($0)) })
        put(.maxTokens, maxTokens.map { .number(Double($0)) })
        put(.lr, learningRate.map { .number($0) })
        put(.beta, beta.map { .number($0) })
        put(.ensemble, ensemble.map { .number(Double($0)) })
        put(.rank, rank.map { .number(Double($0)) })
        put(.frequency, frequency.map { .number(Double($0)) })
        put(.reference, reference.map { .string($0) })
        put(.loss, loss.map { .string($0) })
        put(.simulator, simulator.map { .string($0) })
        put(.evalEvery, evalEvery.map { .number(Double($0)) })
        put(.evalPrompts, evalPrompts.map { .number(Double($0)) })
        put(.seed, seed.map { .number(Double($0)) })
        return o
    }

    func validate() throws {
        if grid != nil {
            guard out != nil else { throw ValidationError("--grid needs --out DIR") }
            if !options.isEmpty { throw ValidationError("with --grid the settings come from the grid file (drop \(options.keys.sorted().map { "--" + $0.replacingOccurrences(of: "_", with: "-") }.joined(separator: ", ")))") }
            return
        }
        if out != nil || resume || reportOnly || only != nil { throw ValidationError("--out, --resume, --report-only and --only go with --grid") }
        do { _ = try ExperimentSettings().applying(options) } catch {
            // Name the option as typed: `--max-tokens`, not `max_tokens`.
            guard let key = error.key, error.description.hasPrefix(key) else { throw ValidationError(error.description) }
            throw ValidationError("--" + key.replacingOccurrences(of: "_", with: "-") + error.description.dropFirst(key.count))
        }
    }

    func run() async throws {
        if let grid, let out { return try await runGrid(file: grid, directory: out) }
        let settings = try ExperimentSettings().applying(options)
        let pool = ComputePool(threads: modelOptions.threadCount)
        defer { pool.shutdown() }
        let judge = try await Self.readyJudge(settings.simulator, pool: pool)
        let model = try modelOptions.load(pool: pool)
        let train = try PromptSet.load(path: trainPrompts, fallback: PromptSet.train)
        let dev = Array(try PromptSet.load(path: devPrompts, fallback: PromptSet.dev).prefix(settings.evalPrompts))
        let evaluator = GreedyEvaluator(model: model, pool: pool, lease: nil, prompts: dev, maxTokens: settings.maxTokens)
        let started = Date()
        let initialReplies = try evaluator.replies(of: ServingPolicy(id: "initial", weights: model.weights))
        say(String(format: "initial policy's greedy replies to %d prompts: %.0fs", dev.count, Date().timeIntervalSince(started)))
        let log = jsonOut.map { _ = FileManager.default.createFile(atPath: $0, contents: nil); return FileHandle(forWritingAtPath: $0)! }
        defer { try? log?.close() }
        let p = settings.phase
        say("experiment: \(settings.steps) steps × \(p.batchSize) prompts, F=\(settings.annotationSchedule!.frequency), E=\(p.ensembleSize) "
            + "r=\(p.lora.rank) lr=\(p.optimizer.learningRate) β=\(p.beta) \(p.loss) reference=\(p.reference) judge=\(judge.name)")
        let run = ExperimentRun(settings: settings, model: model, pool: pool, trainPrompts: train, evaluator: evaluator,
                                initialReplies: initialReplies, judge: judge, referee: try RubricSimulator())
        while !run.isFinished {
            let r = try await run.nextStep()
            say(Self.line(r))
            log?.write(try JSONEncoder().encode(r) + Data("\n".utf8))
        }
        say(String(format: "experiment: %d steps in %.1f min", settings.steps, Date().timeIntervalSince(started) / 60))
    }

    static func line(_ r: StepRecord) -> String {
        var line = String(format: "step %3d  sample %5.1fs", r.step, r.sampleSeconds)
        if let loss = r.loss, let t = r.trainSeconds {
            line += String(format: "  train %5.1fs  pairs %2d  loss %.4f  acc %.2f  margin %+.3f  kl %+.2f", t, r.pairs, loss,
                           r.rewardAccuracy ?? 0, r.margin ?? 0, r.klToBehavior ?? 0)
        }
        if let e = r.evaluation {
            line += String(format: "  | win rate vs initial %.3f (finished %.0f%%, %.0f words; %.0fs)", e.winRate, 100 * e.finished, e.words, e.seconds)
        }
        return line
    }

    /// The judge a `simulator` setting names, asked one question first so that one that cannot answer (a
    /// remote judge unreachable) stops the command before anything is written.
    static func readyJudge(_ spec: String, pool: ComputePool) async throws -> any PreferenceSimulator {
        let judge: any PreferenceSimulator
        do { judge = try Judges.make(spec, pool: pool) } catch { throw CLIError("\(error)") }
        var rng = SeededGenerator(seed: 0)
        do {
            _ = try await judge.judge(prompt: "Say hello.", a: Candidate(text: "Hello!", finished: true),
                                      b: Candidate(text: "Goodbye.", finished: true), rng: &rng)
        } catch {
            throw CLIError("the judge \(spec) cannot judge: \(error)")
        }
        return judge
    }

    private func runGrid(file: String, directory: String) async throws {
        let gridFile: GridFile
        do { gridFile = try GridFile.read(path: file) } catch { throw CLIError(error.description) }
        let selected = only.map { Set($0.split(separator: ",").map(String.init)) }
        if let unknown = selected?.subtracting(gridFile.variants.map(\.name)).sorted().first {
            throw CLIError("--only: no variant '\(unknown)' in \(file) (variants: \(gridFile.variants.map(\.name).joined(separator: ", ")))")
        }
        if reportOnly {
            let report = GridReport(grid: gridFile, directory: directory)
            guard !report.records.isEmpty else { throw CLIError("\(directory) holds no runs of \(file)") }
            try report.write()
            say("wrote \(directory)/report.md")
            return
        }
        if GridRunner.hasRuns(in: directory) && !resume {
            throw CLIError("\(directory) already holds a grid's runs: pass --resume to continue it, or choose another --out")
        }
        let pool = ComputePool(threads: modelOptions.threadCount)
        defer { pool.shutdown() }
        var judges: [String: any PreferenceSimulator] = [:]
        for spec in Set(gridFile.runs.filter { selected?.contains($0.variant) ?? true }.map(\.settings.simulator)).sorted() {
            judges[spec] = try await Self.readyJudge(spec, pool: pool)
        }
        let model = try modelOptions.load(pool: pool)
        let train = try PromptSet.load(path: trainPrompts, fallback: PromptSet.train)
        let dev = try PromptSet.load(path: devPrompts, fallback: PromptSet.dev)
        let runner = GridRunner(grid: gridFile, directory: directory, model: model, pool: pool, trainPrompts: train, devPrompts: dev,
                                makeJudge: { [judges] spec in judges[spec]! }, referee: try RubricSimulator())
        do { try runner.checkResumable() } catch { throw CLIError(error.description) }
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try? FileManager.default.removeItem(atPath: directory + "/grid.yaml")
        try FileManager.default.copyItem(atPath: file, toPath: directory + "/grid.yaml")
        let runs = gridFile.runs.filter { selected?.contains($0.variant) ?? true }
        say("grid: \(runs.count) runs (\(gridFile.variants.count) variants × \(gridFile.seeds.count) seeds\(selected == nil ? "" : ", --only")) into \(directory)")
        var bar: ProgressBar?
        try await runner.run(only: selected) { p in
            if bar == nil { bar = ProgressBar(total: p.total - p.done + p.doneHere, label: "grid") }
            let win = p.record.evaluation.map { String(format: "  win %.3f", $0.winRate) } ?? ""
            bar?.update(p.doneHere, "\(p.done)/\(p.total) steps  \(p.run) step \(p.record.step)\(win)")
        }
        bar?.finish()
        try GridReport(grid: gridFile, directory: directory).write()
        say("wrote \(directory)/report.md")
    }
}
