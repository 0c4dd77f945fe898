// LearnerService: the background learner. Labels pairs with the simulator if configured, starts a phase when
// enough new labelled pairs wait (or on schedule, or when an operator asks), trains the serving version's
// ensemble on them with BPO on the shared cores, gates the candidate against the serving version, and
// publishes it — promoted and swapped in, or kept as rejected.

import Foundation
import Learning
import Llama
import Logging
import Metrics
import ProximaNumerics
import ServiceLifecycle
import ProximaCore
import Synchronization

/// Live progress of the running phase (what GET /admin/phases/{id} adds to the stored record).
public struct PhaseProgress: Codable, Sendable, Equatable {
    public var phaseID: Int64
    public var step: Int
    public var steps: Int
    public var report: StepReport?
    public var secondsElapsed: Double
    public var etaSeconds: Double?
    public var stage: String

    enum CodingKeys: String, CodingKey {
        case step, steps, report, stage
        case phaseID = "phase_id", secondsElapsed = "seconds_elapsed", etaSeconds = "eta_seconds"
    }
}

public final class LearnerService: Service, @unchecked Sendable {
    private let configuration: LearnerConfiguration
    private let store: any ProximaStore
    private let registry: PolicyRegistry
    private let evaluator: GreedyEvaluator
    private let weights: LlamaWeights
    private let pool: ComputePool
    private let lease: ComputeLease
    private let logger: Logger
    private let judge: any PreferenceSimulator
    private let clock: any WallClock
    /// Rung by whatever gives the learner work: stored feedback, logged pairs (when a labeller is set), an
    /// operator's phase, shutdown. Between rings the learner sleeps (until the next scheduled phase, if any).
    public let doorbell: Doorbell
    /// Queues phases (an operator's, the triggers').
    public let phases: PhaseQueue
    /// Elects this process as the only learner on a shared store; nil: it is alone on its store.
    private let election: (any LearnerElection)?
    private let stopping = Atomic<Bool>(false)
    /// Whether this process is the learner now (false while it waits as a standby).
    private let leading = Atomic<Bool>(false)
    /// Set when the election is lost during a phase's training: the phase stops at its next step.
    private let lostElection = Atomic<Bool>(false)
    /// The running phase an operator asked to stop (0: none).
    private let cancelling = Atomic<Int64>(0)
    private let progressLock = NSLock()
    private var currentProgress: PhaseProgress?
    /// The running phase's step reports so far (its curve; a finished phase keeps them in its metrics).
    private var currentCurve: [StepReport] = []
    /// After the labeller failed (a remote judge down), when to ask it again; only the run loop touches it.
    private var labellerPausedUntil: ContinuousClock.Instant?
    static let labellerPause: Duration = .seconds(60)
    /// How often an idle elected learner checks that it still holds the learner's lock.
    static let electionCheck: Duration = .seconds(5)

    /// `judge` gates candidates (and is the labeller's fallback); `doorbell` is shared with the services whose
    /// writes give the learner work.
    public init(configuration: LearnerConfiguration, store: any ProximaStore, registry: PolicyRegistry, evaluator: GreedyEvaluator,
                judge: any PreferenceSimulator, weights: LlamaWeights, pool: ComputePool, lease: ComputeLease,
                doorbell: Doorbell = Doorbell(), election: (any LearnerElection)? = nil, clock: any WallClock = SystemWallClock(),
                logger: Logger) {
        self.configuration = configuration
        self.election = election
        self.phases = PhaseQueue(settings: configuration.settings, store: store, registry: registry, model: weights.config,
                                 clock: clock, logger: logger)
        self.clock = clock
        self.judge = judge
        self.doorbell = doorbell
        self.store = store
        self.registry = registry
        self.evaluator = evaluator
        self.weights = weights
        self.pool = pool
        self.lease = lease
        self.logger = logger
    }

    // MARK: - Operator API

    /// Queues a phase now (operator trigger) with `settings` (the defaults with an operator's overrides).
    public func requestPhase(_ settings: PhaseSettings) async throws -> PhaseRecord {
        let record = try await phases.request(settings)
        doorbell.ring()
        return record
    }

    /// Stops phase `id`: a queued one at once, a running one before its next training step (or before its gate).
    /// Returns the phase as it is now; throws `StoreError.unknownPhase`, `LearnerError.runsElsewhere` for a
    /// phase another process runs, or, for a phase that has ended, `StoreError.invalidTransition`.
    public func cancelPhase(id: Int64) async throws -> PhaseRecord {
        try await phases.cancel(id: id) { [self] phase in
            guard isLearner, progress?.phaseID == id else { return try PhaseQueue.runsElsewhere(phase) }
            cancelling.store(id, ordering: .relaxed)
            doorbell.ring()
            return phase
        }
    }

    private func cancelRequested(_ id: Int64) -> Bool { cancelling.load(ordering: .relaxed) == id }

    /// The settings a phase gets unless an operator overrides them.
    public var defaults: PhaseSettings { phases.defaults }

    /// The running phase's progress, if any.
    public var progress: PhaseProgress? { progressLock.withLock { currentProgress } }

    /// The running phase's progress with its step reports so far, read together.
    public var progressAndCurve: (progress: PhaseProgress, curve: [StepReport])? {
        progressLock.withLock { currentProgress.map { ($0, currentCurve) } }
    }

    // MARK: - Service

    /// Whether this process runs phases now: false while it waits as a standby for another process's turn.
    public var isLearner: Bool { leading.load(ordering: .relaxed) }

    public func run() async throws {
        await withGracefulShutdownHandler {
            while !stopping.load(ordering: .relaxed) {
                guard await becomeLearner() else { continue }
                leading.store(true, ordering: .relaxed)
                await learn()
                leading.store(false, ordering: .relaxed)
            }
        } onGracefulShutdown: { [self] in
            stopping.store(true, ordering: .relaxed)
            doorbell.ring()
        }
    }

    /// Waits for this process's turn on a shared store (a standby meanwhile), then marks the phase a dead
    /// learner left running failed. False when it should try again (or is stopping).
    private func becomeLearner() async -> Bool {
        guard let election else { return true }
        let logger = self.logger
        do {
            try await cancelWhenGracefulShutdown {
                try await election.becomeLearner {
                    logger.notice("another process runs the learner on this database; waiting as its standby")
                }
            }
            let interrupted = try await store.markInterruptedPhasesFailed(at: clock.now())
            logger.notice("this process is the learner now")
            if !interrupted.failedPhaseIDs.isEmpty {
                logger.warning("marked the previous learner's phases failed: \(interrupted.failedPhaseIDs), rejected \(interrupted.rejectedVersionIDs)")
            }
            return true
        } catch {
            if !stopping.load(ordering: .relaxed) {
                logger.error("learner: cannot become the learner: \(error) (retrying in \(configuration.retryDelay))")
                await doorbell.sleep(for: configuration.retryDelay)
            }
            return false
        }
    }

    /// Runs phases as work arrives until shutdown, or until this process is no longer the learner.
    private func learn() async {
        var lastScheduled = ContinuousClock.now
        while !stopping.load(ordering: .relaxed) {
            if let election, await !election.isStillLearner() {
                logger.warning("learner: this process lost the learner's lock (its database session ended); waiting for its turn again")
                return
            }
            do {
                try await labelPairs()
                // An offline phase belongs to the `proxima train` that created it (and starts it at once).
                if let queued = try await store.phases().first(where: { $0.status == .queued && $0.trigger != .offline }) {
                    await runPhase(queued)   // everything the phase allocated is released when it returns
                    try await onOwnThread("proxima-learner") { returnFreedMemory() }
                    continue
                }
                if configuration.settings.automatic, let trigger = try await dueTrigger(lastScheduled: lastScheduled) {
                    if trigger == .schedule { lastScheduled = .now }
                    _ = try await phases.queue(trigger: trigger, settings: configuration.phase)
                    continue
                }
            } catch {
                logger.error("learner: \(error) (retrying in \(configuration.retryDelay))")
                await doorbell.sleep(for: configuration.retryDelay)
                continue
            }
            // Nothing to do until a ring, or until the next scheduled phase is due (once it is due, only a new
            // labelled pair — a ring — can start it).
            // An elected learner also looks every few seconds whether it still is.
            let deadline = configuration.settings.automatic ? configuration.schedule.map { lastScheduled + $0 } : nil
            let wait = deadline.flatMap { $0 > .now ? $0 - .now : nil }
            await doorbell.sleep(for: election == nil ? wait : min(wait ?? Self.electionCheck, Self.electionCheck))
        }
    }

    // MARK: - Triggers and labels

    private func dueTrigger(lastScheduled: ContinuousClock.Instant) async throws -> PhaseTrigger? {
        let waiting = try await TrainingData.countUnused(in: store, loss: configuration.settings.phase.loss)
        if configuration.settings.triggerPairs > 0 && waiting >= configuration.settings.triggerPairs { return .pairs }
        if let every = configuration.schedule, waiting > 0, ContinuousClock.now - lastScheduled >= every { return .schedule }
        return nil
    }

    /// Judges unlabelled pairs with the configured simulator and records its verdicts as feedback. When the
    /// judge fails (a remote judge unreachable), the pair and the rest stay unlabelled, the learner goes on with
    /// the pairs it has, and the judge is asked again a minute later.
    private func labelPairs() async throws {
        guard let labeller = configuration.labeller else { return }
        if let until = labellerPausedUntil, ContinuousClock.now < until { return }
        labellerPausedUntil = nil
        var rng = SplitMix64(seed: UInt64(clock.now().timeIntervalSince1970 * 1000))
        for pair in try await store.unlabelledPairs(limit: 256) where pair.samples.count == 2 {
            let prompt = pair.messages.last(where: { $0.role == "user" })?.content ?? ""
            let a = pair.samples[0], b = pair.samples[1]
            let verdict: Verdict
            do {
                verdict = try await labeller.judge(prompt: prompt, a: Candidate(text: a.text, finished: a.finishReason == .stop),
                                                   b: Candidate(text: b.text, finished: b.finishReason == .stop), rng: &rng)
            } catch {
                logger.error("labeller \(labeller.name) failed: \(error); pairs stay unlabelled, asking again in \(Self.labellerPause)")
                Counter(label: "proxima_labeller_failures_total").increment()
                labellerPausedUntil = .now + Self.labellerPause
                return
            }
            let choice: PairChoice = verdict.choice == .a ? .first : verdict.choice == .b ? .second : .tie
            _ = try await store.recordFeedback(FeedbackEvent(eventID: "simulator-\(pair.requestID)",
                                                             subject: .choice(pairID: pair.pairID, choice: choice),
                                                             source: .simulator, comment: labeller.name, createdAt: clock.now()))
        }
    }

    // MARK: - A phase

    private func runPhase(_ queued: PhaseRecord) async {
        let started = ContinuousClock.now
        do {
            // The phase row is where a phase's settings live (an operator's overrides included).
            let settings: PhaseSettings
            do { settings = try queued.config.decode(PhaseSettings.self) } catch {
                throw LearnerError.invalidSettings("the phase's recorded settings do not decode: \(error)")
            }
            let phase = try await store.startPhase(id: queued.id, at: clock.now())
            let base = try await registry.policy(id: phase.baseVersion)
            let (used, examples) = try await TrainingData.read(from: store, loss: settings.loss, limit: configuration.settings.maxPairsPerPhase,
                                                                      contextLength: weights.config.contextLength)
            try await store.recordPhasePairs(phaseID: phase.id, requestIDs: used)
            guard !examples.isEmpty else { throw LearnerError.noPairs }
            let model = weights.config
            let stored = try await registry.ensemble(of: base.id)
            let ensemble = try await onOwnThread("proxima-learner") { Self.startingEnsemble(stored, settings: settings, model: model) }
            setProgress(PhaseProgress(phaseID: phase.id, step: 0, steps: settings.steps, report: nil, secondsElapsed: 0, etaSeconds: nil, stage: "training"))
            lostElection.store(false, ordering: .relaxed)
            let reports = try await train(ensemble, examples: examples, settings: settings, phaseID: phase.id, started: started)
            if lostElection.load(ordering: .relaxed) { throw LearnerError.notTheLearner }
            if cancelRequested(phase.id) { throw LearnerError.cancelled(stage: "training") }
            setProgress(PhaseProgress(phaseID: phase.id, step: settings.steps, steps: settings.steps, report: reports.last,
                                      secondsElapsed: (ContinuousClock.now - started).seconds, etaSeconds: nil, stage: "gate"))
            let baseWeights = weights
            let candidate = try await onOwnThread("proxima-learner") {
                ServingPolicy(id: "candidate-\(phase.id)", weights: baseWeights, ensemble: ensemble)
            }
            let (gate, vsInitial) = try await evaluate(candidate, against: base)
            if cancelRequested(phase.id) { throw LearnerError.cancelled(stage: "gating") }
            var metrics = try JSONObject(encoding: PhaseMetrics(steps: reports, gate: gate, pairs: examples.count,
                                                                 seconds: (ContinuousClock.now - started).seconds))
            metrics["gate_threshold"] = .number(configuration.settings.gateThreshold)
            var versionMetrics = try JSONObject(encoding: gate)
            versionMetrics["vs_initial"] = try JSONValue(encoding: vsInitial)
            // Another process may have become the learner while this one trained (and failed this phase).
            if let election, await !election.isStillLearner() { throw LearnerError.notTheLearner }
            let version = try await registry.publish(ensemble, parent: base.id, phaseID: phase.id, metrics: versionMetrics)
            evaluator.rename(candidate.id, to: version.id)
            if gate.winRate >= configuration.settings.gateThreshold {
                _ = try await store.finishPhase(id: phase.id, outcome: .promoted(versionID: version.id, metrics: metrics), at: clock.now())
                try await registry.didPromote(version.id)
                Counter(label: "proxima_learner_phases_total", dimensions: [("status", "succeeded")]).increment()
                logger.info("phase \(phase.id): \(version.id) promoted (win rate \(gate.winRate))")
            } else {
                _ = try await store.finishPhase(id: phase.id, outcome: .rejected(versionID: version.id, metrics: metrics), at: clock.now())
                Counter(label: "proxima_learner_phases_total", dimensions: [("status", "rejected")]).increment()
                logger.info("phase \(phase.id): \(version.id) rejected (win rate \(gate.winRate) < \(configuration.settings.gateThreshold))")
            }
            Gauge(label: "proxima_learner_gate_win_rate").record(gate.winRate)
            if configuration.settings.keepVersions > 0 { try await registry.prune(keep: configuration.settings.keepVersions) }
        } catch LearnerError.cancelled(let stage) {
            logger.notice("phase \(queued.id) cancelled by an operator while \(stage)")
            _ = try? await store.finishPhase(id: queued.id, outcome: .cancelled(reason: PhaseQueue.cancelledReason(while: stage)), at: clock.now())
            Counter(label: "proxima_learner_phases_total", dimensions: [("status", "cancelled")]).increment()
        } catch {
            logger.error("phase \(queued.id) failed: \(error)")
            _ = try? await store.finishPhase(id: queued.id, outcome: .failed(error: "\(error)", metrics: nil), at: clock.now())
            Counter(label: "proxima_learner_phases_total", dimensions: [("status", "failed")]).increment()
        }
        cancelling.store(0, ordering: .relaxed)
        Metrics.Timer(label: "proxima_learner_phase_seconds").recordNanoseconds(Int64((ContinuousClock.now - started) / .nanoseconds(1)))
        setProgress(nil)
    }

    private func setProgress(_ p: PhaseProgress?) {
        progressLock.withLock {
            if p?.phaseID != currentProgress?.phaseID { currentCurve = [] }
            if let report = p?.report, report.step > (currentCurve.last?.step ?? 0) { currentCurve.append(report) }
            currentProgress = p
        }
    }

    /// The training steps, on a thread of their own (they block for minutes), holding the compute lease in
    /// chunks; each step's report is stored as the phase's progress.
    private func train(_ ensemble: LoRAEnsemble, examples: [TrainingExample], settings: PhaseSettings, phaseID: Int64,
                       started: ContinuousClock.Instant) async throws -> [StepReport] {
        let (reportStream, reportContinuation) = AsyncStream<StepReport>.makeStream()
        let result = Task { [store, logger] in
            for await report in reportStream {
                let elapsed = (ContinuousClock.now - started).seconds
                let eta = elapsed / Double(report.step) * Double(settings.steps - report.step)
                let p = PhaseProgress(phaseID: phaseID, step: report.step, steps: settings.steps, report: report,
                                      secondsElapsed: elapsed, etaSeconds: eta, stage: "training")
                self.setProgress(p)
                Gauge(label: "proxima_learner_loss").record(report.loss)
                Gauge(label: "proxima_learner_reward_accuracy").record(report.rewardAccuracy)
                Gauge(label: "proxima_learner_kl").record(report.klToBehavior)
                Counter(label: "proxima_learner_steps_total").increment()
                do { try await store.updatePhaseProgress(id: phaseID, progress: try JSONObject(encoding: p)) } catch { logger.error("progress: \(error)") }
                if let election = self.election, await !election.isStillLearner() { self.lostElection.store(true, ordering: .relaxed) }
            }
        }
        let reports: [StepReport] = try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { [self] in
                lowerPriority()
                // What needs no cores of the pool is done before taking them: the arena of activations (a GB to
                // zero for the default settings) and, in the first phase, the fp32 copies of the weights.
                let trainer = PhaseTrainer(weights: weights, ensemble: ensemble, settings: settings, pool: pool) { [lease] in lease.yieldToServing() }
                weights.prepareTrainingCopies()
                lease.acquireForLearning()
                let reports = trainer.run(examples, shouldStop: {
                    stopping.load(ordering: .relaxed) || cancelRequested(phaseID) || lostElection.load(ordering: .relaxed)
                }) {
                    reportContinuation.yield($0)
                }
                lease.release()
                reportContinuation.finish()
                if stopping.load(ordering: .relaxed) {
                    continuation.resume(throwing: LearnerError.interrupted)
                } else {
                    continuation.resume(returning: reports)
                }
            }
            thread.name = "proxima-learner"
            thread.stackSize = 8 << 20
            thread.start()
        }
        await result.value
        return reports
    }

    /// The gate (the candidate against its base) and the candidate against the initial policy (the dashboard's
    /// win rate against v0; the same comparison when the base is v0). Greedy replies are cached per version.
    private func evaluate(_ candidate: ServingPolicy, against base: ServingPolicy) async throws -> (gate: EvaluationResult, vsInitial: EvaluationResult) {
        let evaluator = self.evaluator
        let initial = base.id == PolicyVersionRecord.initialID ? base : try await registry.policy(id: PolicyVersionRecord.initialID)
        let (mine, theirs, first) = try await onOwnThread("proxima-gate") {
            (try evaluator.replies(of: candidate), try evaluator.replies(of: base), try evaluator.replies(of: initial))
        }
        let gate = try await evaluator.compare(mine, theirs, simulator: judge)
        return (gate, initial.id == base.id ? gate : try await evaluator.compare(mine, first, simulator: judge))
    }

    // MARK: - Ensembles

    /// The base version's ensemble (read from its file, so the phase owns it) when it can carry the settings'
    /// adapters — as many members, the same scale, at least the rank and the targets (members persist across
    /// phases; an imported version's are wider: LoRAEnsemble(importing:)) — otherwise fresh members.
    public static func startingEnsemble(_ stored: LoRAEnsemble?, settings: PhaseSettings, model: LlamaConfig) -> LoRAEnsemble {
        let layout = LoRALayout(model: model, lora: settings.lora)
        if let stored, stored.layout.model == model, stored.members.count == settings.ensembleSize,
           stored.layout.lora.scale == settings.lora.scale, stored.layout.lora.rank >= settings.lora.rank,
           Set(stored.layout.lora.targets).isSuperset(of: settings.lora.targets) {
            return stored
        }
        return LoRAEnsemble(layout: layout, memberCount: settings.ensembleSize, seed: settings.seed)
    }
}
