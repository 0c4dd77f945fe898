// TrainCommand: `proxima train` — a training phase offline, on the labelled pairs of a database, SQLite or
// PostgreSQL (the result is a candidate version there, activated with --activate or later by an operator), or on
// exported pairs (the result is written as a PEFT adapter directory), with a progress bar.

import ArgumentParser
import Foundation
import ProximaCore
import Learning
import Llama
import Inference
import Logging
import ModelFiles
import ProximaNumerics
import Service

struct TrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a phase offline on a database's labelled pairs or on exported pairs (JSON lines).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var location: DatabaseOptions
    @Option(help: "Exported pairs (JSON lines from /admin/pairs/export) to train on instead.") var pairs: String?
    @Option(help: "With --pairs: the directory to write the adapter and ensemble state to.") var out: String?
    @Flag(name: .customLong("new-only"), help: "With a database: only pairs no phase has used yet.") var newOnly = false
    @Flag(help: "With a database: serve the new version at once (otherwise it stays a candidate).") var activate = false
    @Option(help: "Optimiser steps (default: the learner's — the configuration's with a database — \(PhaseSettings().steps) as shipped).") var steps: Int?
    @Option(name: .customLong("batch-size")) var batchSize: Int?
    @Option(name: .customLong("lr")) var learningRate: Double?
    @Option var beta: Double?
    @Option(help: "dpo, ipo, slic or kto.") var loss: String?
    @Option var ensemble: Int?
    @Option var rank: Int?
    @Option(help: "LoRA alpha (default 2 · rank).") var alpha: Double?
    @Option(help: "Comma-separated LoRA targets among q,k,v,o,gate,up,down.") var targets: String?
    @Option(help: "behavior (BPO), initial, soft:<alpha> or hard:<tau>.") var reference: String?
    @Option var seed: UInt64?

    func validate() throws {
        guard location.isGiven != (pairs != nil) else { throw ValidationError("give exactly one of --pairs and a database (--db, --database or --config)") }
        if pairs != nil && out == nil { throw ValidationError("--pairs needs --out DIR for the adapter") }
        if activate && pairs != nil { throw ValidationError("--activate needs a database") }
        _ = try settings()
    }

    /// `base` (the learner's default phase settings, or the configuration's) with the options given (PhaseSettings' keys).
    func settings(base: PhaseSettings = PhaseSettings()) throws -> PhaseSettings {
        var overrides: JSONObject = [:]
        overrides["steps"] = steps.map { .number(Double($0)) }
        overrides["batch_size"] = batchSize.map { .number(Double($0)) }
        overrides["learning_rate"] = learningRate.map { .number($0) }
        overrides["beta"] = beta.map { .number($0) }
        overrides["loss"] = loss.map { .string($0) }
        overrides["ensemble"] = ensemble.map { .number(Double($0)) }
        overrides["rank"] = rank.map { .number(Double($0)) }
        overrides["alpha"] = alpha.map { .number($0) }
        overrides["targets"] = targets.map { .array($0.split(separator: ",").map { .string(String($0)) }) }
        overrides["reference"] = reference.map { .string($0) }
        overrides["seed"] = seed.map { .number(Double($0)) }
        do { return try base.applying(overrides) } catch { throw ValidationError(error.description) }
    }

    func run() async throws {
        let pool = ComputePool(threads: modelOptions.threadCount)
        defer { pool.shutdown() }
        if let pairs {
            try await trainOnFile(pairs, settings: try settings(), model: try modelOptions.load(pool: pool), pool: pool)
        } else {
            let serve = try await location.settings()
            let settings = try self.settings(base: serve.learner.phase)
            let model = try modelOptions.load(pool: pool, configured: serve.model)   // the model the database serves
            try await OpenedStore.open(serve, logger: Logger(label: "proxima.train")).closing { opened in
                try await trainOnDatabase(opened, files: PolicyDirectory(serve.policiesDirectoryURL), settings: settings, model: model, pool: pool)
            }
        }
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

    private func trainOnDatabase(_ opened: OpenedStore, files: PolicyDirectory, settings: PhaseSettings, model: ModelBundle, pool: ComputePool) async throws {
        let store = opened.store
        _ = try await store.ensureBaseVersion(baseModelSHA256: try SHA256.hexOfFile(model.path), at: Date())
        let logger = Logger(label: "proxima.train")
        // With PostgreSQL the new version's files also go to the database, for the servers on other disks.
        let registry = PolicyRegistry(files: files, shared: opened.sharedFiles, store: store, weights: model.weights, baseModelName: model.name,
                                      logger: logger) { _ in }
        let base = try await registry.servingPolicy()
        let (used, examples) = try await TrainingData.read(from: store, loss: settings.loss, unusedOnly: newOnly,
                                                           contextLength: model.weights.config.contextLength)
        guard !examples.isEmpty else { throw CLIError("\(opened.location) holds no usable labelled pairs\(settings.loss.isPairwise ? "" : " or rated responses")") }
        var phase = try await store.createPhase(PhaseDraft(trigger: .offline, config: try JSONObject(encoding: settings), baseVersion: base.id, createdAt: Date()))
        phase = try await store.startPhase(id: phase.id, at: Date())
        try await store.recordPhasePairs(phaseID: phase.id, requestIDs: used)
        say("phase \(phase.id): \(examples.count) examples, training from \(base.id)")
        let ensemble = LearnerService.startingEnsemble(try await registry.ensemble(of: base.id), settings: settings, model: model.weights.config)
        let reports = train(ensemble, examples, settings, model, pool)
        let metrics = try JSONObject(encoding: ["final_loss": reports.last!.loss, "final_reward_accuracy": reports.last!.rewardAccuracy])
        let version = try await registry.publish(ensemble, parent: base.id, phaseID: phase.id, metrics: metrics)
        _ = try await store.finishPhase(id: phase.id, outcome: .produced(versionID: version.id, metrics: metrics), at: Date())
        if activate { try await registry.activate(version.id) }
        say("candidate \(version.id) written\(activate ? " and serving" : "; activate it with POST /admin/policies/\(version.id)/activate")")
    }
}
