// LearnerSettings: the `learner.*` keys of config/proxima.yaml: when phases start, how they train, how
// candidates are gated, whether a simulator labels pairs, and how many versions keep their files.

import Foundation
import Learning
import Llama
import Service
import Simulators

struct LearnerSettings {
    var enabled = true
    var automatic = true
    var triggerPairs = 64
    var scheduleSeconds = 0
    var maxPairsPerPhase = 1024
    var simulator = "none"
    var phase: PhaseSettings = {
        var p = PhaseSettings()
        p.steps = 8
        return p
    }()
    var gateThreshold = 0.5
    var gatePrompts = "prompts/dev.jsonl"
    var gatePromptCount = 200
    var gateMaxTokens = 96
    var keepVersions = 10
    /// nil: `policies/` beside the database.
    var policiesDirectory: String?
    var maxLearnerWaitMilliseconds = 250

    enum Key {
        static let enabled = "learner.enabled", automatic = "learner.automatic", triggerPairs = "learner.trigger_pairs"
        static let schedule = "learner.schedule_seconds", maxPairs = "learner.max_pairs_per_phase", simulator = "learner.simulator"
        static let loss = "learner.loss", beta = "learner.beta", steps = "learner.steps", batch = "learner.batch_size"
        static let lr = "learner.learning_rate", warmup = "learner.warmup_steps", decay = "learner.weight_decay", clip = "learner.clip_norm"
        static let ensemble = "learner.ensemble", rank = "learner.rank", alpha = "learner.alpha", targets = "learner.targets"
        static let reference = "learner.reference", seed = "learner.seed"
        static let gateThreshold = "learner.gate_threshold", gatePrompts = "learner.gate_prompts", gateCount = "learner.gate_prompt_count"
        static let gateTokens = "learner.gate_max_tokens", keep = "learner.keep_versions", policies = "learner.policies_dir"
        static let maxWait = "learner.max_wait_ms"
    }

    init() {}

    init(reader: SettingsReader) throws {
        enabled = try reader.bool(Key.enabled) ?? enabled
        automatic = try reader.bool(Key.automatic) ?? automatic
        triggerPairs = try reader.int(Key.triggerPairs, in: 0...1_000_000) ?? triggerPairs
        scheduleSeconds = try reader.int(Key.schedule, in: 0...10_000_000) ?? scheduleSeconds
        maxPairsPerPhase = try reader.int(Key.maxPairs, in: 1...10_000_000) ?? maxPairsPerPhase
        simulator = try reader.string(Key.simulator) ?? simulator
        guard ["none", "rubric"].contains(simulator) else { throw CLIError("\(Key.simulator) must be none or rubric (got \(simulator))") }
        if let name = try reader.string(Key.loss) {
            guard let loss = PreferenceLoss(rawValue: name) else { throw CLIError("\(Key.loss) must be dpo, ipo or slic (got \(name))") }
            phase.loss = loss
        }
        phase.beta = try reader.double(Key.beta, in: 1e-6...1e6) ?? phase.beta
        phase.steps = try reader.int(Key.steps, in: 1...1_000_000) ?? phase.steps
        phase.batchSize = try reader.int(Key.batch, in: 1...4096) ?? phase.batchSize
        phase.optimizer.learningRate = try reader.double(Key.lr, in: 1e-12...1) ?? phase.optimizer.learningRate
        phase.optimizer.warmupSteps = try reader.int(Key.warmup, in: 0...1_000_000) ?? phase.optimizer.warmupSteps
        phase.optimizer.weightDecay = try reader.double(Key.decay, in: 0...10) ?? phase.optimizer.weightDecay
        phase.optimizer.clipNorm = try reader.double(Key.clip, in: 0...1e6) ?? phase.optimizer.clipNorm
        phase.ensembleSize = try reader.int(Key.ensemble, in: 1...64) ?? phase.ensembleSize
        let rank = try reader.int(Key.rank, in: 1...1024) ?? phase.lora.rank
        let alpha = try reader.double(Key.alpha, in: 1e-6...1e6).map(Float.init) ?? Float(2 * rank)
        var targets = phase.lora.targets
        if let names = try reader.strings(Key.targets) {
            do { targets = try LinearRole.roles(named: names) } catch { throw CLIError("\(Key.targets): \(error)") }
        }
        phase.lora = LoRAConfiguration(rank: rank, alpha: alpha, targets: targets)
        if let text = try reader.string(Key.reference) {
            guard let mode = ReferenceMode(text: text) else { throw CLIError("\(Key.reference) must be behavior, initial, soft:<alpha> or hard:<tau> (got \(text))") }
            phase.reference = mode
        }
        phase.seed = UInt64(try reader.int(Key.seed, in: 0...Int.max) ?? 0)
        if let problem = phase.problem { throw CLIError("learner settings: \(problem)") }
        gateThreshold = try reader.double(Key.gateThreshold, in: 0...1) ?? gateThreshold
        gatePrompts = try reader.string(Key.gatePrompts) ?? gatePrompts
        gatePromptCount = try reader.int(Key.gateCount, in: 1...100_000) ?? gatePromptCount
        gateMaxTokens = try reader.int(Key.gateTokens, in: 1...4096) ?? gateMaxTokens
        keepVersions = try reader.int(Key.keep, in: 0...100_000) ?? keepVersions
        policiesDirectory = try reader.string(Key.policies).flatMap { $0.isEmpty ? nil : $0 }
        maxLearnerWaitMilliseconds = try reader.int(Key.maxWait, in: 1...60_000) ?? maxLearnerWaitMilliseconds
    }

    /// The learner service's configuration, with the gate prompts read from `gatePrompts`.
    func configuration() throws -> LearnerConfiguration {
        var c = LearnerConfiguration()
        c.automatic = automatic
        c.triggerPairs = triggerPairs
        c.schedule = scheduleSeconds > 0 ? .seconds(scheduleSeconds) : nil
        c.maxPairsPerPhase = maxPairsPerPhase
        c.phase = phase
        c.gateThreshold = gateThreshold
        c.gatePrompts = Array(try PromptSet.load(ModelOptions.packageFile(gatePrompts) ?? gatePrompts).prefix(gatePromptCount))
        c.gateMaxTokens = gateMaxTokens
        c.labeller = simulator == "rubric" ? try RubricSimulator() : nil
        c.keepVersions = keepVersions
        return c
    }
}
