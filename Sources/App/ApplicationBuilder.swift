// ApplicationBuilder: assembles the service from its parts — the one place where the engine, the chat and
// feedback services, the policy registry, the learner and the HTTP routes are wired together. `proxima serve`
// calls it with the SQLite store and the model file; tests call it with the in-memory store and a small model.

import Foundation
import HTTPAPI
import Hummingbird
import Inference
import Logging
import Metrics
import NIOCore
import ModelFiles
import Prometheus
import ProximaCore
import ProximaNumerics
import Service
import ServiceLifecycle
import Simulators

/// What the service is built from besides its settings: the ports' implementations and the loaded model.
public struct ServerDependencies: Sendable {
    public var model: ModelBundle
    /// The sha256 of the model file: a database belongs to one base model.
    public var modelSHA256: String
    public var store: any ProximaStore
    public var pool: ComputePool
    /// Where learned versions' files go (on disk: the learner's `policies_dir`, else `policies/` beside the database).
    public var policyFiles: any PolicyFileStore
    /// Where versions' files are shared with processes on other disks (the PostgreSQL store), or nil.
    public var sharedFiles: (any SharedVersionFiles)?
    /// Tells when another process changed the serving version or stored the learner's work (the PostgreSQL
    /// store), or nil (one process).
    public var notifications: (any StoreNotifications)?
    /// Keeps one learner per shared store (PostgreSQL's lock), or nil (one process: it is the learner).
    public var learnerElection: (any LearnerElection)?
    /// Where processes sharing the store see each other (`/admin/replicas`), or nil (one process).
    public var heartbeats: (any ProcessHeartbeats)?
    /// How often this process records its heartbeat.
    public var heartbeatInterval: Duration = .seconds(5)
    /// Judges the gate's greedy replies (the rubric; pairs are labelled by the judge `learner.simulator` names).
    public var judge: any PreferenceSimulator
    public var metrics: PrometheusCollectorRegistry
    public var metricsFactory: any MetricsFactory
    public var logger: Logger
    /// The engine: nil builds the real one (continuous batching on `pool`); tests may pass `ScriptedEngine`.
    public var engine: (any ChatEngine)?
    /// When things happen, as recorded (tests may pass `ManualWallClock`).
    public var clock: any WallClock = SystemWallClock()

    public init(model: ModelBundle, modelSHA256: String, store: any ProximaStore, pool: ComputePool, policyFiles: any PolicyFileStore,
                judge: any PreferenceSimulator, metrics: PrometheusCollectorRegistry, metricsFactory: any MetricsFactory, logger: Logger) {
        self.model = model; self.modelSHA256 = modelSHA256; self.store = store; self.pool = pool
        self.policyFiles = policyFiles; self.judge = judge; self.metrics = metrics
        self.metricsFactory = metricsFactory; self.logger = logger
    }
}

/// The assembled service: the Hummingbird application (its services are the engine and the learner) and
/// the parts tests look at.
public struct ProximaServer: Sendable {
    public let app: Application<RouterResponder<ProximaRequestContext>>
    public let engine: any ChatEngine
    public let chat: ChatService
    public let policies: PolicyRegistry
    /// nil on a replica (`role: replica`).
    public let learner: LearnerService?
    public let admin: AdminService
    /// The version serving when the server started.
    public let servingAtStart: String
}

/// Builds the service for `settings.role`: makes sure the store has its base version, marks phases a crash
/// interrupted as failed (when this process is the learner; an elected learner does it once elected, a replica
/// never), removes half-written version files, loads the serving version, and wires every part.
public func buildApplication(_ settings: ServeSettings, _ deps: ServerDependencies,
                             onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) async throws -> ProximaServer {
    let logger = deps.logger
    let store = deps.store
    let model = deps.model
    let clock = deps.clock
    let serving = try await store.ensureBaseVersion(baseModelSHA256: deps.modelSHA256, at: clock.now())
    let role = settings.role
    if role.learns && deps.learnerElection == nil {
        let interrupted = try await store.markInterruptedPhasesFailed(at: clock.now())
        if !interrupted.failedPhaseIDs.isEmpty {
            logger.warning("marked interrupted phases failed: \(interrupted.failedPhaseIDs), rejected \(interrupted.rejectedVersionIDs)")
        }
    }

    // MARK: Engine, chat, feedback
    let threads = settings.threads ?? deps.pool.threadCount
    let lease = ComputeLease(maxLearnerWait: .milliseconds(settings.learner.maxWaitMilliseconds))
    var engineConfiguration = settings.engine
    engineConfiguration.threads = threads
    var services: [any ServiceLifecycle.Service] = []
    let engine: any ChatEngine
    if let given = deps.engine {
        engine = given
    } else if !role.chats {
        engine = ChatlessEngine(policy: ServingPolicy(id: serving.id, weights: model.weights))
    } else {
        let service = EngineService(policy: ServingPolicy(id: serving.id, weights: model.weights), tokenizer: model.tokenizer,
                                    pool: deps.pool, lease: lease, configuration: engineConfiguration, logger: logger,
                                    metricsFactory: deps.metricsFactory)
        services.append(service)
        engine = service
    }
    // The learner sleeps until feedback, a labeller's pairs or an operator give it work.
    let learnerBell = Doorbell()
    let labeller: (any PreferenceSimulator)? = role.learns && settings.learner.simulator != "none"
        ? try Judges.make(settings.learner.simulator, pool: deps.pool) : nil
    let onPairLogged: @Sendable () -> Void = { if labeller != nil { learnerBell.ring() } }
    let chat = ChatService(model: model, engine: engine, store: store, configuration: settings.chat,
                           metricsFactory: deps.metricsFactory, clock: clock, onPairLogged: onPairLogged)
    let feedback = FeedbackService(store: store, metricsFactory: deps.metricsFactory, clock: clock, onStored: { learnerBell.ring() })

    // MARK: Versions and the learner
    let policies = PolicyRegistry(files: deps.policyFiles, shared: deps.sharedFiles, store: store, weights: model.weights, baseModelName: model.name,
                                  logger: logger, clock: clock) { [engine] policy in engine.setPolicy(policy) }
    try await policies.removeLeftovers()
    let current = try await policies.activateServing()
    if let notifications = deps.notifications {
        services.append(StoreFollower.servingVersion(notifications, registry: policies, logger: logger))
        if role.learns { services.append(StoreFollower.learnerWork(notifications, doorbell: learnerBell)) }
    }
    var learner: LearnerService?
    if role.learns {
        let configuration = try settings.learner.configuration(labeller: labeller)
        let evaluator = GreedyEvaluator(model: model, pool: deps.pool, lease: lease, prompts: configuration.gatePrompts,
                                        maxTokens: settings.learner.gateMaxTokens)
        let service = LearnerService(configuration: configuration, store: store, registry: policies, evaluator: evaluator,
                                     judge: deps.judge, weights: model.weights, pool: deps.pool, lease: lease,
                                     doorbell: learnerBell, election: deps.learnerElection, clock: clock, logger: logger)
        services.append(service)
        learner = service
    }
    let phaseQueue = learner?.phases ?? PhaseQueue(settings: settings.learner, store: store, registry: policies,
                                                   model: model.weights.config, clock: clock, logger: logger)
    let processes = ProcessDirectory(heartbeats: deps.heartbeats, role: role, interval: deps.heartbeatInterval, clock: clock, logger: logger,
                                     metricsFactory: deps.metricsFactory) { [learner] in
        ProcessDirectory.Status(servingVersion: await policies.activeID, isLearner: learner?.isLearner ?? false)
    }
    services.append(processes)
    let admin = AdminService(store: store, registry: policies, phaseQueue: phaseQueue, learner: learner, processes: processes,
                             adapterReader: PEFTDirectoryReader(), clock: clock)

    // MARK: HTTP
    let router = ProximaAPI.router(chat: chat, feedback: feedback, admin: admin, versions: policies, registry: deps.metrics,
                                   metricsFactory: deps.metricsFactory,
                                   configuration: APIConfiguration(keys: settings.auth, http: settings.http),
                                   warnings: { await policies.fallback.map { [$0] } ?? [] })
    let app = Application(router: router,
                          server: .http1(configuration: .init(idleTimeout: .seconds(Int64(settings.http.idleTimeoutSeconds)))),
                          configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "proxima",
                                               availableConnectionsDelegate: .maximum(settings.http.maxConnections, logger: logger)),
                          services: services, onServerRunning: { channel in
                              processes.setAddress("http://\(settings.host):\(channel.localAddress?.port ?? settings.port)")
                              await onServerRunning(channel)
                          }, logger: logger)
    return ProximaServer(app: app, engine: engine, chat: chat, policies: policies, learner: learner, admin: admin,
                         servingAtStart: current.id)
}
