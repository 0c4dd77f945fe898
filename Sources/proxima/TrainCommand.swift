// TrainCommand: `proxima train` — a training phase offline, on the labelled pairs of a database (the result is
// a candidate version there, activated with --activate or later by an operator) or on exported pairs (the
// result is written as a PEFT adapter directory), with a progress bar.

import ArgumentParser
import Foundation
import Learning
import Llama
import Logging
import ModelFiles
import ProximaNumerics
import Service
import Store

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a phase offline on a database's labelled pairs or on exported pairs (JSON lines).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "A Proxima database (its labelled pairs in, a candidate version out).") var db: String?
    @Option(help: "Exported pairs (JSON lines from /admin/pairs/export) to train on instead.") var pairs: String?
    @Option(help: "With --pairs: the directory to write the adapter and ensemble state to.") var out: String?
    @Flag(name: .customLong("new-only"), help: "With --db: only pairs no phase has used yet.") var newOnly = false
    @Flag(help: "With --db: serve the new version at once (otherwise it stays a candidate).") var activate = false
    @Option var steps = 100
    @Option(name: .customLong("batch-size")) var batchSize = 16
    @Option(name: .customLong("lr")) var learningRate = 5e-5
    @Option var beta = 0.1
    @Option(help: "dpo, ipo or slic.") var loss = "dpo"
    @Option var ensemble = 5
    @Option var rank = 16
    @Option var alpha: Float?
    @Option(help: "Comma-separated LoRA targets among q,k,v,o,gate,up,down.") var targets = "q,k,v,o,gate,up,down"
    @Option(help: "behavior (BPO), initial, soft:<alpha> or hard:<tau>.") var reference = "behavior"
    @Option var seed: UInt64 = 0

    func validate() throws {
        guard (db == nil) != (pairs == nil) else { throw ValidationError("give exactly one of --db and --pairs") }
        if pairs != nil && out == nil { throw ValidationError("--pairs needs --out DIR for the adapter") }
        if activate && db == nil { throw ValidationError("--activate needs --db") }
        if let problem = try settings().problem { throw ValidationError(problem) }
    }

    func settings() throws -> PhaseSettings {
        var s = PhaseSettings()
        s.steps = steps; s.batchSize = batchSize; s.beta = beta; s.ensembleSize = ensemble; s.seed = seed
        s.optimizer = AdamWConfiguration(learningRate: learningRate)
        guard let l = PreferenceLoss(rawValue: loss) else { throw ValidationError("--loss must be dpo, ipo or slic") }
        s.loss = l
        let roles: [LinearRole]
        do { roles = try LinearRole.roles(named: targets.split(separator: ",")) } catch { throw ValidationError("--targets: \(error)") }
        s.lora = LoRAConfiguration(rank: rank, alpha: alpha ?? Float(2 * rank), targets: roles)
        guard let mode = ReferenceMode(text: reference) else {
            throw ValidationError("--reference must be behavior, initial, soft:<alpha> or hard:<tau>")
        }
        s.reference = mode
        return s
    }

    func run() async throws {
        let settings = try self.settings()
        let pool = ComputePool(threads: modelOptions.threadCount)
        defer { pool.shutdown() }
        let model = try modelOptions.load(pool: pool)
        if let pairs { try await trainOnFile(pairs, settings: settings, model: model, pool: pool) } else { try await trainOnDatabase(settings: settings, model: model, pool: pool) }
    }

    private func train(_ ensemble: LoRAEnsemble, _ examples: [TrainingExample], _ settings: PhaseSettings, _ model: ModelBundle, _ pool: ComputePool) -> [StepReport] {
        let trainer = PhaseTrainer(weights: model.weights, ensemble: ensemble, settings: settings, pool: pool)
        let bar = ProgressBar(total: settings.steps, label: "train")
        let reports = trainer.run(examples, onStep: { r in
            bar.update(r.step, String(format: "loss %.4f acc %.2f margin %+.3f", r.loss, r.rewardAccuracy, r.margin))
        })
        bar.finish()
        return reports
    }

    private func trainOnFile(_ path: String, settings: PhaseSettings, model: ModelBundle, pool: ComputePool) async throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read \(path)") }
        let examples = try ExportedPair.parse(data, source: path).compactMap { $0.example(contextLength: model.weights.config.contextLength) }
        guard !examples.isEmpty else { throw CLIError("\(path) holds no usable pairs") }
        say("training on \(examples.count) pairs from \(path)")
        let ensemble = LoRAEnsemble(layout: LoRALayout(model: model.weights.config, lora: settings.lora), memberCount: settings.ensembleSize, seed: settings.seed)
        _ = train(ensemble, examples, settings, model, pool)
        let dir = URL(fileURLWithPath: out!)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        try PolicyFiles(ensemble, baseModel: model.name).write(to: dir)
        say("wrote \(dir.path)/\(PolicyFiles.adapterFile), \(PolicyFiles.configFile) and \(PolicyFiles.stateFile)")
    }

    private func trainOnDatabase(settings: PhaseSettings, model: ModelBundle, pool: ComputePool) async throws {
        let database = try AppDatabase.open(path: db!)
        let store = SQLiteProximaStore(database: database)
        _ = try await store.ensureBaseVersion(baseModelSHA256: try SHA256.hexOfFile(model.path), at: Date())
        let logger = Logger(label: "proxima.train")
        let registry = PolicyRegistry(directory: URL(fileURLWithPath: db!).deletingLastPathComponent().appendingPathComponent("policies"),
                                      store: store, weights: model.weights, baseModelName: model.name, logger: logger) { _ in }
        let base = try await registry.servingPolicy()
        let labelled = try await store.labelledPairs(LabelledPairQuery(unusedOnly: newOnly))
        let examples = labelled.compactMap { ExportedPair($0).example(contextLength: model.weights.config.contextLength) }
        guard !examples.isEmpty else { throw CLIError("\(db!) holds no usable labelled pairs") }
        var phase = try await store.createPhase(PhaseDraft(trigger: .offline, config: try JSONObject(encoding: settings), baseVersion: base.id, createdAt: Date()))
        phase = try await store.startPhase(id: phase.id, at: Date())
        try await store.recordPhasePairs(phaseID: phase.id, requestIDs: labelled.map(\.requestID))
        say("phase \(phase.id): \(examples.count) pairs, training from \(base.id)")
        let ensemble = LearnerService.startingEnsemble(base.ensemble, settings: settings, model: model.weights.config)
        let reports = train(ensemble, examples, settings, model, pool)
        let metrics = try JSONObject(encoding: ["final_loss": reports.last!.loss, "final_reward_accuracy": reports.last!.rewardAccuracy])
        let version = try await registry.publish(ensemble, parent: base.id, phaseID: phase.id, metrics: metrics)
        _ = try await store.finishPhase(id: phase.id, outcome: .produced(versionID: version.id, metrics: metrics), at: Date())
        if activate { try await registry.activate(version.id) }
        say("candidate \(version.id) written\(activate ? " and serving" : "; activate it with POST /admin/policies/\(version.id)/activate")")
    }
}
