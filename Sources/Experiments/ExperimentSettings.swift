// ExperimentSettings: one run of `proxima experiment` — the phase settings it trains with (the same type the
// server's learner uses, so a grid measures what the server does) and what only an experiment has: how many
// steps, how often the pairs are collected (annotation frequency F), how long the samples are, which judge
// labels them, and how it is evaluated. Its keys are the command's option names with underscores, the keys of
// a grid file; every default is written once, here.

import Learning
import ProximaCore
import Service

public struct ExperimentSettings: Sendable, Equatable {
    /// Loss, β, reference, ensemble, rank, learning rate, seed; `batchSize` is the prompts per step.
    public var phase: PhaseSettings
    /// Optimiser steps T, one per loop step.
    public var steps = 100
    /// New tokens per sample and per greedy evaluation reply.
    public var maxTokens = 96
    /// Annotation frequency F in 1...steps; nil: steps (on-policy).
    public var frequency: Int?
    public var evalEvery = 25
    public var evalPrompts = 200
    /// The judge that labels the pairs and the evaluations (`rubric`, ...), as in the server's `learner.simulator`.
    public var simulator = "rubric"

    /// The reference result's settings (../shared/data/README.md): lr 2e-4, E = 5, r = 16, 16 prompts per step.
    public init() {
        phase = PhaseSettings()
        phase.optimizer.learningRate = 2e-4
        phase.batchSize = 16
        phase.steps = 1
    }

    public var annotationSchedule: AnnotationSchedule? { AnnotationSchedule(steps: steps, frequency: frequency ?? steps) }

    /// Every key, in the order the usage lists them.
    public enum Key: String, CaseIterable, Sendable {
        case steps, frequency, reference, loss, lr, beta, ensemble, rank, seed, simulator
        case promptsPerStep = "prompts_per_step", maxTokens = "max_tokens", evalEvery = "eval_every", evalPrompts = "eval_prompts"
        case desirableWeight = "desirable_weight", undesirableWeight = "undesirable_weight"
    }

    /// The phase setting each experiment key stands for, where it is one.
    private static let phaseKeys: [Key: PhaseSettings.Key] = [
        .reference: .reference, .loss: .loss, .lr: .learningRate, .beta: .beta, .ensemble: .ensemble, .rank: .rank,
        .seed: .seed, .promptsPerStep: .batchSize, .desirableWeight: .desirableWeight, .undesirableWeight: .undesirableWeight,
    ]

    /// These settings with each of `values` replacing its key's value. An unknown key, a value of the wrong type
    /// or settings that cannot run are refused in one sentence naming the key.
    public func applying(_ values: JSONObject) throws(SettingsError) -> ExperimentSettings {
        var s = self
        var phaseOverrides: JSONObject = [:]
        for (name, value) in values.sorted(by: { $0.key < $1.key }) {
            guard let key = Key(rawValue: name) else {
                throw SettingsError(key: name, "unknown setting '\(name)' (known: \(Key.allCases.map(\.rawValue).sorted().joined(separator: ", ")))")
            }
            if let phaseKey = Self.phaseKeys[key] { phaseOverrides[phaseKey.stringValue] = value; continue }
            func integer() throws(SettingsError) -> Int {
                guard case let .number(n) = value, n == n.rounded(), abs(n) < 1e9 else {
                    throw SettingsError(key: name, "\(name) must be a whole number (got \(value.text))")
                }
                return Int(n)
            }
            switch key {
            case .steps: s.steps = try integer()
            case .frequency: s.frequency = try integer()
            case .maxTokens: s.maxTokens = try integer()
            case .evalEvery: s.evalEvery = try integer()
            case .evalPrompts: s.evalPrompts = try integer()
            case .simulator:
                guard case let .string(text) = value else { throw SettingsError(key: name, "simulator must be a string (got \(value.text))") }
                s.simulator = text
            default: break
            }
        }
        do {
            s.phase = try s.phase.applying(phaseOverrides)
        } catch {
            // Name the experiment's key, not the phase's (`lr`, not `learning_rate`).
            let key = error.key.flatMap { k in Self.phaseKeys.first { $0.value.stringValue == k }?.key.rawValue } ?? error.key
            throw SettingsError(key: key, key.map { k in error.description.replacingOccurrences(of: error.key ?? k, with: k) } ?? error.description)
        }
        if let problem = s.problem { throw problem }
        return s
    }

    /// Why these settings cannot run, or nil.
    public var problem: SettingsError? {
        if steps < 1 || steps > PhaseSettings.maxSteps { return SettingsError(key: Key.steps.rawValue, "steps must be in 1...\(PhaseSettings.maxSteps) (got \(steps))") }
        if let problem = AnnotationSchedule.problem(steps: steps, frequency: frequency ?? steps) {
            return SettingsError(key: Key.frequency.rawValue, "frequency: \(problem)")
        }
        if !(1...4096).contains(maxTokens) { return SettingsError(key: Key.maxTokens.rawValue, "max_tokens must be in 1...4096 (got \(maxTokens))") }
        if evalEvery < 1 { return SettingsError(key: Key.evalEvery.rawValue, "eval_every must be at least 1 (got \(evalEvery))") }
        if evalPrompts < 1 { return SettingsError(key: Key.evalPrompts.rawValue, "eval_prompts must be at least 1 (got \(evalPrompts))") }
        do { _ = try JudgeSpec(parsing: simulator) } catch { return SettingsError(key: Key.simulator.rawValue, "simulator: \(error.description)") }
        return nil
    }

    /// The flat form, every key with its value: what a grid run records beside its results.
    public var values: JSONObject {
        var o: JSONObject = [
            Key.steps.rawValue: .number(Double(steps)), Key.maxTokens.rawValue: .number(Double(maxTokens)),
            Key.evalEvery.rawValue: .number(Double(evalEvery)), Key.evalPrompts.rawValue: .number(Double(evalPrompts)),
            Key.simulator.rawValue: .string(simulator), Key.frequency.rawValue: .number(Double(frequency ?? steps)),
        ]
        let phaseValues = (try? JSONObject(encoding: phase)) ?? [:]
        for (key, phaseKey) in Self.phaseKeys { o[key.rawValue] = phaseValues[phaseKey.stringValue] }
        return o
    }
}

extension JSONValue {
    /// The value as it would be written in JSON (for error messages).
    var text: String {
        switch self {
        case .null: "null"
        case let .bool(b): "\(b)"
        case let .number(n): n == n.rounded() && abs(n) < 1e15 ? "\(Int(n))" : "\(n)"
        case let .string(s): "\"\(s)\""
        case .array: "a list"
        case .object: "a map"
        }
    }
}
