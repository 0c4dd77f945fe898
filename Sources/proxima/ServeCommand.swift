// ServeCommand: `proxima serve` — loads the model, opens the store, loads the serving version, and runs the
// engine, the learner and the HTTP API in one service group until SIGINT/SIGTERM (the server stops admitting,
// in-flight requests finish, a running phase is interrupted and marked failed, the database closes).

import ArgumentParser
import Configuration
import Foundation
import HTTPAPI
import Hummingbird
import Logging
import Metrics
import ModelFiles
import Prometheus
import ProximaNumerics
import Service
import ServiceLifecycle
import Store

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OpenAI-compatible chat API (see config/proxima.yaml and docs/api.md).",
        discussion: "Settings come from flags, then PROXIMA_* environment variables, then the configuration file, then defaults.")

    @Option(help: "Configuration file (default: config/proxima.yaml when it exists).") var config: String?
    @Option(help: "Address to bind (default 127.0.0.1).") var host: String?
    @Option(help: "Port to bind (default 8080).") var port: Int?
    @Option(help: "SQLite database file (default data/proxima.sqlite).") var db: String?
    @OptionGroup var modelOptions: ModelOptions

    /// The flags that were given, as configuration values (they win over everything else).
    private var flagValues: [String: ConfigValue] {
        var values: [String: ConfigValue] = [:]
        if let host { values[ServeSettings.Key.host] = .init(.string(host), isSecret: false) }
        if let port { values[ServeSettings.Key.port] = .init(.int(port), isSecret: false) }
        if let db { values[ServeSettings.Key.db] = .init(.string(db), isSecret: false) }
        if let model = modelOptions.model { values[ServeSettings.Key.model] = .init(.string(model), isSecret: false) }
        if let threads = modelOptions.threads { values[ServeSettings.Key.threads] = .init(.int(threads), isSecret: false) }
        return values
    }

    func run() async throws {
        let settings = try await ServeSettings.load(file: config, flags: flagValues)
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "proxima")
        guard settings.keys.isEnabled || settings.isLoopbackHost else {
            throw CLIError("refusing to bind \(settings.host) with no API keys: set auth.user_keys (or PROXIMA_AUTH_USER_KEYS) "
                           + "or bind a loopback address such as 127.0.0.1")
        }
        let registry = PrometheusCollectorRegistry()
        let metricsFactory = ProximaAPI.metricsFactory(registry: registry)
        MetricsSystem.bootstrap(metricsFactory)

        // MARK: Model, store, engine
        let threads = settings.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let pool = ComputePool(threads: threads)
        defer { pool.shutdown() }
        let lease = ComputeLease(maxLearnerWait: .milliseconds(settings.learner.maxLearnerWaitMilliseconds))
        let modelPath = try settings.model ?? ModelOptions.defaultModelPath()
        let model: ModelBundle
        do { model = try ModelBundle(path: modelPath, pool: pool) } catch { throw CLIError(error.description) }
        let modelSHA256: String
        do { modelSHA256 = try SHA256.hexOfFile(modelPath) } catch { throw CLIError(error.description) }

        let database = try AppDatabase.open(path: settings.db)
        let store = SQLiteProximaStore(database: database)
        let serving = try await store.ensureBaseVersion(baseModelSHA256: modelSHA256, at: Date())
        let interrupted = try await store.markInterruptedPhasesFailed(at: Date())
        if !interrupted.failedPhaseIDs.isEmpty {
            logger.warning("marked interrupted phases failed: \(interrupted.failedPhaseIDs), rejected \(interrupted.rejectedVersionIDs)")
        }
        let engine = EngineService(policy: ServingPolicy(id: serving.id, weights: model.weights), tokenizer: model.tokenizer,
                                   pool: pool, lease: lease, configuration: engineConfiguration(settings, threads: threads), logger: logger)
        let chat = ChatService(model: model, engine: engine, store: store, configuration: settings.chat)
        let feedback = FeedbackService(store: store)

        // MARK: Versions and the learner
        let policiesDirectory = settings.learner.policiesDirectory.map { URL(fileURLWithPath: $0) }
            ?? URL(fileURLWithPath: settings.db).deletingLastPathComponent().appendingPathComponent("policies")
        let policies = PolicyRegistry(directory: policiesDirectory, store: store, weights: model.weights, baseModelName: model.name,
                                      logger: logger) { [engine] policy in engine.setPolicy(policy) }
        try await policies.removeLeftovers()
        let current = try await policies.activateServing()
        var services: [any ServiceLifecycle.Service] = [engine]
        var admin: AdminService?
        if settings.learner.enabled {
            let configuration = try settings.learner.configuration()
            let evaluator = GreedyEvaluator(model: model, pool: pool, lease: lease, prompts: configuration.gatePrompts,
                                            maxTokens: configuration.gateMaxTokens)
            let learner = LearnerService(configuration: configuration, store: store, registry: policies, evaluator: evaluator,
                                         weights: model.weights, pool: pool, lease: lease, logger: logger)
            services.append(learner)
            admin = AdminService(store: store, registry: policies, learner: learner)
        }

        // MARK: HTTP
        let router = ProximaAPI.router(chat: chat, feedback: feedback, admin: admin, registry: registry, metricsFactory: metricsFactory,
                                       configuration: APIConfiguration(keys: settings.keys, bodyLimitBytes: settings.bodyLimitBytes))
        let auth = settings.keys.isEnabled
            ? "bearer keys (\(settings.keys.userKeys.count) user, \(settings.keys.adminKeys.count) admin)"
            : "none (no API keys configured: loopback only)"
        let app = Application(router: router,
                              configuration: .init(address: .hostname(settings.host, port: settings.port), serverName: "proxima"),
                              services: services,
                              onServerRunning: { channel in
                                  let port = channel.localAddress?.port ?? settings.port
                                  logger.notice("proxima serving http://\(settings.host):\(port) model=\(model.name) version=\(current.id) learner=\(settings.learner.enabled ? (settings.learner.automatic ? "automatic" : "operator") : "off") db=\(settings.db) auth=\(auth) pairing=\(settings.chat.pairing ? "on" : "off") threads=\(threads)")
                              },
                              logger: logger)
        try await app.runService()
        try database.close()
        logger.notice("proxima stopped")
    }

    private func engineConfiguration(_ settings: ServeSettings, threads: Int) -> EngineConfiguration {
        var configuration = settings.engine
        configuration.threads = threads
        return configuration
    }
}
