// PhaseQueue: queues phases in the store for whichever process runs the learner — this one, or, on a shared
// PostgreSQL database, the learner another process is (the store notifies it). Operators' phases and the
// learner's own triggers go through it, so a phase queued on a replica is checked exactly as on the learner.

import Foundation
import Learning
import Logging
import ProximaCore
import Llama

public struct PhaseQueue: Sendable {
    let store: any ProximaStore
    let registry: PolicyRegistry
    /// The settings a phase gets unless an operator overrides them.
    public let defaults: PhaseSettings
    /// The most memory a phase may need (`PhaseSettings.estimatedBytes`).
    let maxPhaseBytes: Int
    let model: LlamaConfig
    let clock: any WallClock
    let logger: Logger

    public init(settings: LearnerSettings, store: any ProximaStore, registry: PolicyRegistry, model: LlamaConfig,
                clock: any WallClock = SystemWallClock(), logger: Logger) {
        self.store = store
        self.registry = registry
        self.defaults = settings.phase
        self.maxPhaseBytes = settings.maxPhaseMemoryMB << 20
        self.model = model
        self.clock = clock
        self.logger = logger
    }

    /// Queues an operator's phase with `settings` (the defaults with the operator's overrides), on the version
    /// serving now. Throws `LearnerError.invalidSettings` for settings that cannot train here.
    public func request(_ settings: PhaseSettings) async throws -> PhaseRecord {
        if let problem = settings.problem { throw LearnerError.invalidSettings(problem) }
        let needed = settings.estimatedBytes(model: model)
        guard needed <= maxPhaseBytes else {
            throw LearnerError.invalidSettings("these settings need about \(needed >> 20) MiB for training, more than "
                                               + "learner.max_phase_memory_mb (\(maxPhaseBytes >> 20) MiB) allows")
        }
        return try await queue(trigger: .operator, settings: settings)
    }

    func queue(trigger: PhaseTrigger, settings: PhaseSettings) async throws -> PhaseRecord {
        let serving = try await registry.servingPolicy()
        let record = try await store.createPhase(PhaseDraft(trigger: trigger, config: try JSONObject(encoding: settings),
                                                            baseVersion: serving.id, createdAt: clock.now()))
        logger.info("phase \(record.id) queued (\(trigger.rawValue)) on \(serving.id)")
        return record
    }

    /// Stops phase `id`: a queued one at once; a running one through `stopRunning` (the learner running it
    /// stops it at its next step; elsewhere it throws `LearnerError.runsElsewhere`). Returns the phase as it is
    /// now; throws `StoreError.unknownPhase` or, for a phase that has ended, `StoreError.invalidTransition`.
    func cancel(id: Int64, stopRunning: (PhaseRecord) throws -> PhaseRecord) async throws -> PhaseRecord {
        guard let phase = try await store.phase(id: id) else { throw StoreError.unknownPhase(id: id) }
        switch phase.status {
        case .queued:
            return try await store.finishPhase(id: id, outcome: .cancelled(reason: Self.cancelledReason(while: "queued")), at: clock.now())
        case .running:
            return try stopRunning(phase)
        default:
            throw StoreError.invalidTransition(what: "phase \(id)", from: phase.status.rawValue, to: PhaseStatus.cancelled.rawValue,
                                               hint: "only a queued or running phase can be cancelled")
        }
    }

    /// Refuses to stop a phase another process runs.
    static func runsElsewhere(_ phase: PhaseRecord) throws -> PhaseRecord { throw LearnerError.runsElsewhere(phaseID: phase.id) }

    static func cancelledReason(while stage: String) -> String { "cancelled by an operator while \(stage)" }
}
