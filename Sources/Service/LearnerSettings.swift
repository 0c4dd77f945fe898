// LearnerSettings: the `learner:` section of config/proxima.yaml — when phases start, the phase settings they
// get unless an operator overrides them (PhaseSettings' keys, flat in the same section), how candidates are
// gated, whether a simulator labels pairs, and how many versions keep their files.

import Foundation
import Learning
import ProximaCore

public struct LearnerSettings: Sendable, Equatable {
    public var automatic = true
    public var triggerPairs = 64
    public var scheduleSeconds = 0
    public var maxPairsPerPhase = 1024
    /// Labels pairs nobody labelled: `none`, `rubric`, `llm:<gguf>` or `remote:<url>` (JudgeSpec).
    public var simulator = "none"
    /// The phase settings (loss, beta, steps, …), flat in this section.
    public var phase = PhaseSettings()
    public var gateThreshold = 0.5
    /// Empty: the built-in held-out set (prompts/dev.jsonl as shipped).
    public var gatePrompts = ""
    public var gatePromptCount = 200
    public var gateMaxTokens = 96
    public var keepVersions = 10
    /// Empty: `policies/` beside the database.
    public var policiesDirectory = ""
    public var maxWaitMilliseconds = 250
    /// The most memory a phase may need (`PhaseSettings.estimatedBytes`), in MiB; larger ones are refused.
    public var maxPhaseMemoryMB = 4096

    public init() {}
}

extension LearnerSettings: Decodable {
    public enum Key: String, CodingKey, CaseIterable {
        case automatic, simulator
        case triggerPairs = "trigger_pairs", scheduleSeconds = "schedule_seconds", maxPairsPerPhase = "max_pairs_per_phase"
        case gateThreshold = "gate_threshold", gatePrompts = "gate_prompts", gatePromptCount = "gate_prompt_count"
        case gateMaxTokens = "gate_max_tokens", keepVersions = "keep_versions", policiesDirectory = "policies_dir"
        case maxWaitMilliseconds = "max_wait_ms", maxPhaseMemoryMB = "max_phase_memory_mb"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: Key.self)
        automatic = try c.decodeIfPresent(Bool.self, forKey: .automatic) ?? automatic
        triggerPairs = try c.decodeIfPresent(Int.self, forKey: .triggerPairs) ?? triggerPairs
        scheduleSeconds = try c.decodeIfPresent(Int.self, forKey: .scheduleSeconds) ?? scheduleSeconds
        maxPairsPerPhase = try c.decodeIfPresent(Int.self, forKey: .maxPairsPerPhase) ?? maxPairsPerPhase
        simulator = try c.decodeIfPresent(String.self, forKey: .simulator) ?? simulator
        phase = try PhaseSettings(from: decoder)
        gateThreshold = try c.decodeIfPresent(Double.self, forKey: .gateThreshold) ?? gateThreshold
        gatePrompts = try c.decodeIfPresent(String.self, forKey: .gatePrompts) ?? gatePrompts
        gatePromptCount = try c.decodeIfPresent(Int.self, forKey: .gatePromptCount) ?? gatePromptCount
        gateMaxTokens = try c.decodeIfPresent(Int.self, forKey: .gateMaxTokens) ?? gateMaxTokens
        keepVersions = try c.decodeIfPresent(Int.self, forKey: .keepVersions) ?? keepVersions
        policiesDirectory = try c.decodeIfPresent(String.self, forKey: .policiesDirectory) ?? policiesDirectory
        maxWaitMilliseconds = try c.decodeIfPresent(Int.self, forKey: .maxWaitMilliseconds) ?? maxWaitMilliseconds
        maxPhaseMemoryMB = try c.decodeIfPresent(Int.self, forKey: .maxPhaseMemoryMB) ?? maxPhaseMemoryMB
    }

    /// Every key of the section, phase settings included.
    public static var keys: [String] { Key.allCases.map(\.stringValue) + PhaseSettings.Key.allCases.map(\.stringValue) }

    /// Why these settings cannot be used, or nil.
    public var problem: SettingsError? {
        func key(_ k: Key) -> String { "learner.\(k.stringValue)" }
        let ranges: [(Key, Int, ClosedRange<Int>)] = [
            (.triggerPairs, triggerPairs, 0...1_000_000), (.scheduleSeconds, scheduleSeconds, 0...10_000_000),
            (.maxPairsPerPhase, maxPairsPerPhase, 1...10_000_000), (.gatePromptCount, gatePromptCount, 1...100_000),
            (.gateMaxTokens, gateMaxTokens, 1...4096), (.keepVersions, keepVersions, 0...100_000),
            (.maxWaitMilliseconds, maxWaitMilliseconds, 1...60_000), (.maxPhaseMemoryMB, maxPhaseMemoryMB, 1...1_048_576),
        ]
        for (k, value, range) in ranges where !range.contains(value) {
            return SettingsError(key: key(k), "\(key(k)) must be in \(range) (got \(value))")
        }
        guard (0...1).contains(gateThreshold) else { return SettingsError(key: key(.gateThreshold), "\(key(.gateThreshold)) must be in 0...1") }
        if simulator != "none" {
            do { _ = try JudgeSpec(parsing: simulator) } catch {
                return SettingsError(key: key(.simulator), "\(key(.simulator)): \(error.description); or none, for no labeller")
            }
        }
        if let problem = phase.problem { return SettingsError(key: nil, "learner settings: \(problem)") }
        return nil
    }

    /// The learner service's configuration, with the gate prompts read (the built-in set unless a file is named).
    public func configuration(labeller: (any PreferenceSimulator)?) throws(SettingsError) -> LearnerConfiguration {
        let prompts: [String]
        do {
            prompts = Array(try PromptSet.load(path: gatePrompts, fallback: PromptSet.dev).prefix(gatePromptCount))
        } catch {
            throw SettingsError(key: "learner.gate_prompts", "learner.gate_prompts: \(error)")
        }
        return LearnerConfiguration(settings: self, gatePrompts: prompts, labeller: labeller)
    }
}
