// ServeCommand: `proxima serve` — reads the settings, loads the model, opens the store, and runs the service
// that `buildApplication` assembles (engine, learner, HTTP API) until SIGINT/SIGTERM: the server stops
// admitting, in-flight requests finish, a running phase is interrupted and marked failed, the database closes.

import ProximaApp
import ArgumentParser
import Foundation
import HTTPAPI
import Inference
import Logging
import Metrics
import ModelFiles
import Prometheus
import ProximaNumerics
import Simulators
import Store

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the OpenAI-compatible chat API (see config/proxima.yaml and docs/api.md).",
        discussion: "Settings come from flags, then PROXIMA_* environment variables, then the configuration file, then defaults.")

    @Option(help: "Configuration file (default: config/proxima.yaml in the working directory or the package, or PREFIX/etc/proxima/proxima.yaml when installed).") var config: String?
    @Option(help: "Address to bind (default 127.0.0.1).") var host: String?
    @Option(help: "Port to bind (default 8080).") var port: Int?
    @Option(help: "SQLite database file (default data/proxima.sqlite).") var db: String?
    @Option(help: "What this process does: all (chat and the learner), replica (chat only) or learner (the learner only); default all.") var role: String?
    @Option(help: "PostgreSQL database instead of the SQLite file: postgres://user@host:5432/database (database.url).") var database: String?
    @OptionGroup var modelOptions: ModelOptions

    /// The flags that were given (they win over everything else).
    private var flags: [ServeSettings.Flag: String] {
        var values: [ServeSettings.Flag: String] = [:]
        values[.host] = host
        values[.port] = port.map(String.init)
        values[.db] = db
        values[.database] = database
        values[.role] = role
        values[.model] = modelOptions.model
        values[.threads] = modelOptions.threads.map(String.init)
        return values
    }

    func run() async throws {
        let settings = try await ServeSettings.load(file: config, flags: flags)
        let level = settings.logLevel
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "proxima")
        for warning in settings.warnings { logger.warning("\(warning)") }
        guard settings.auth.isEnabled || settings.isLoopbackHost else {
            throw CLIError("refusing to bind \(settings.host) with no API keys: set auth.user_keys (or PROXIMA_AUTH_USER_KEYS) "
                           + "or bind a loopback address such as 127.0.0.1")
        }
        let registry = PrometheusCollectorRegistry()
        let metricsFactory = ProximaAPI.metricsFactory(registry: registry)
        MetricsSystem.bootstrap(metricsFactory)

        let threads = settings.threads ?? ProcessInfo.processInfo.activeProcessorCount
        let pool = ComputePool(threads: threads)
        defer { pool.shutdown() }
        let modelPath = try settings.model ?? InstallLayout.defaultModelPath()
        let model: ModelBundle
        let modelSHA256: String
        do {
            model = try ModelBundle(path: modelPath, pool: pool)
            modelSHA256 = try SHA256.hexOfFile(modelPath)
        } catch { throw CLIError(error.description) }
        let opened = try await OpenedStore.open(settings, logger: logger)
        let policiesDirectory = settings.policiesDirectoryURL
        var dependencies = ServerDependencies(model: model, modelSHA256: modelSHA256, store: opened.store,
                                              pool: pool, policyFiles: PolicyDirectory(policiesDirectory), judge: try RubricSimulator(),
                                              metrics: registry, metricsFactory: metricsFactory, logger: logger)
        dependencies.sharedFiles = opened.sharedFiles
        dependencies.notifications = opened.notifications
        dependencies.learnerElection = opened.learnerElection
        dependencies.heartbeats = opened.heartbeats
        let auth = settings.auth.isEnabled
            ? "bearer keys (\(settings.auth.userKeys.count) user, \(settings.auth.adminKeys.count) admin)"
            : "none (no API keys configured: loopback only)"
        let learner = settings.role.learns ? (settings.learner.automatic ? "automatic" : "operator") : "off"
        let server = try await buildApplication(settings, dependencies) { channel in
            let port = channel.localAddress?.port ?? settings.port
            logger.notice("proxima serving http://\(settings.host):\(port) model=\(model.name) role=\(settings.role.rawValue) learner=\(learner) db=\(opened.location) auth=\(auth) pairing=\(settings.chat.pairing ? "on" : "off") threads=\(threads)")
        }
        logger.notice("serving version \(server.servingAtStart)")
        try await server.app.runService()
        await opened.close()
        logger.notice("proxima stopped")
    }
}
