// ProximaAPI: builds the HTTP API: the routes, their middleware (metrics, errors, auth per group) and the
// Prometheus metrics factory with buckets sized for this CPU. `proxima serve` and the router tests use it.

import Foundation
import Hummingbird
import Metrics
import Prometheus
import Service
import ProximaCore

/// Settings of the HTTP layer.
public struct APIConfiguration: Sendable {
    /// Bearer keys; with none the API is open.
    public var keys: APIKeys
    public var http: HTTPSettings

    public init(keys: APIKeys = APIKeys(), http: HTTPSettings = HTTPSettings()) {
        self.keys = keys
        self.http = http
    }

    /// The largest request body accepted (413 above it).
    public var bodyLimitBytes: Int { http.bodyLimitBytes }
}

/// The `http:` section of config/proxima.yaml.
public struct HTTPSettings: Sendable, Equatable {
    /// The largest request body accepted, in bytes (413 above it).
    public var bodyLimitBytes = 1 << 20
    /// Whether `GET /metrics` needs a key (user or admin) when keys are configured; false leaves it open to
    /// scrapers on the allowed addresses.
    public var metricsRequireKey = false
    /// A connection that completes no part of a request for this long — headers never finished, or idle
    /// between requests — is closed (a response being generated or streamed does not count as idle).
    public var idleTimeoutSeconds = 30
    /// Connections open at once; beyond it new ones wait in the listen backlog until one closes.
    public var maxConnections = 256

    public init() {}
}

extension HTTPSettings: Codable {
    public enum Key: String, CodingKey, CaseIterable {
        case bodyLimitBytes = "body_limit_bytes", metricsRequireKey = "metrics_require_key"
        case idleTimeoutSeconds = "idle_timeout_seconds", maxConnections = "max_connections"
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: Key.self)
        bodyLimitBytes = try c.decodeIfPresent(Int.self, forKey: .bodyLimitBytes) ?? bodyLimitBytes
        metricsRequireKey = try c.decodeIfPresent(Bool.self, forKey: .metricsRequireKey) ?? metricsRequireKey
        idleTimeoutSeconds = try c.decodeIfPresent(Int.self, forKey: .idleTimeoutSeconds) ?? idleTimeoutSeconds
        maxConnections = try c.decodeIfPresent(Int.self, forKey: .maxConnections) ?? maxConnections
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(bodyLimitBytes, forKey: .bodyLimitBytes)
        try c.encode(metricsRequireKey, forKey: .metricsRequireKey)
        try c.encode(idleTimeoutSeconds, forKey: .idleTimeoutSeconds)
        try c.encode(maxConnections, forKey: .maxConnections)
    }
}

/// The OpenAI-compatible API and the operations routes.
public enum ProximaAPI {
    /// The router with every route. Routes:
    /// - open: `GET /health`, `GET /ready` (with `warnings` the operator should see), `GET /metrics` (a user key
    ///   with `http.metrics_require_key`);
    /// - user key: `POST /v1/chat/completions`, `POST /v1/feedback`, `GET /v1/models`;
    /// - admin key: `GET /admin/policies`, `POST /admin/policies/{id}/activate`, `POST /admin/policies/import`, `POST|GET /admin/phases`,
    ///   `GET /admin/phases/{id}`, `POST /admin/phases/{id}/cancel`, `GET /admin/activity`, `GET /admin/pairs/export`,
    ///   `POST /admin/pairs/import`, `GET /admin/replicas` (all but the first only with `admin`: router tests may leave it out).
    public static func router(chat: ChatService, feedback: FeedbackService, admin: AdminService? = nil, versions: PolicyRegistry? = nil,
                              registry: PrometheusCollectorRegistry, metricsFactory: any MetricsFactory,
                              configuration: APIConfiguration, startedAt: Date = Date(),
                              warnings: @escaping @Sendable () async -> [String] = { [] }) -> Router<ProximaRequestContext> {
        let modelName = chat.model.name
        let operations = OperationsController(chat: chat, store: chat.store, registry: registry, modelName: modelName,
                                              startedAt: startedAt, warnings: warnings, versions: versions)
        let completions = ChatCompletionsController(chat: chat, modelName: modelName, bodyLimit: configuration.bodyLimitBytes,
                                                    versions: versions)
        let feedbackRoutes = FeedbackController(feedback: feedback, bodyLimit: configuration.bodyLimitBytes)

        let router = Router(context: ProximaRequestContext.self, options: .autoGenerateHeadEndpoints)
        router.add(middleware: RequestMetricsMiddleware(factory: metricsFactory))
        router.add(middleware: APIErrorMiddleware(routes: routeMethods))

        let pages = WebPages()
        router.get("/", use: pages.chat)
        router.get("/dashboard", use: pages.dashboard)
        router.get("/assets/{name}", use: pages.asset)
        router.get("/health", use: operations.health)
        router.get("/ready", use: operations.ready)
        if configuration.http.metricsRequireKey {
            router.group("/metrics").add(middleware: AuthMiddleware(keys: configuration.keys, role: .user)).get(use: operations.metrics)
        } else {
            router.get("/metrics", use: operations.metrics)
        }

        let v1 = router.group("/v1").add(middleware: AuthMiddleware(keys: configuration.keys, role: .user))
        v1.post("/chat/completions", use: completions.create)
        v1.post("/feedback", use: feedbackRoutes.create)
        v1.get("/models", use: operations.models)

        let adminRoutes = router.group("/admin").add(middleware: AuthMiddleware(keys: configuration.keys, role: .admin))
        if let admin {
            let controller = AdminController(admin: admin, bodyLimit: configuration.bodyLimitBytes)
            adminRoutes.get("/policies", use: controller.policies)
            adminRoutes.post("/policies/{id}/activate", use: controller.activate)
            adminRoutes.post("/policies/import", use: controller.importAdapter)
            adminRoutes.post("/phases", use: controller.startPhase)
            adminRoutes.get("/phases", use: controller.phases)
            adminRoutes.get("/phases/{id}", use: controller.phase)
            adminRoutes.post("/phases/{id}/cancel", use: controller.cancelPhase)
            adminRoutes.get("/activity", use: controller.activity)
            adminRoutes.get("/pairs/export", use: controller.exportPairs)
            adminRoutes.post("/pairs/import", use: controller.importPairs)
            adminRoutes.get("/replicas", use: controller.replicas)
        } else {
            adminRoutes.get("/policies", use: operations.policies)
        }
        return router
    }

    /// The methods of every route by path (for 405 answers).
    static let routeMethods: [String: [HTTPRequest.Method]] = [
        "/": [.get, .head], "/dashboard": [.get, .head], "/health": [.get, .head], "/ready": [.get, .head], "/metrics": [.get, .head],
        "/v1/chat/completions": [.post], "/v1/feedback": [.post], "/v1/models": [.get, .head],
        "/admin/policies": [.get, .head], "/admin/policies/import": [.post], "/admin/phases": [.get, .head, .post],
        "/admin/activity": [.get, .head], "/admin/pairs/export": [.get, .head], "/admin/pairs/import": [.post],
        "/admin/replicas": [.get, .head],
    ]

    /// A Prometheus factory over `registry` with buckets for this service: durations from 5 ms to 30 s, batch
    /// sizes from 1 to 64 sequences.
    public static func metricsFactory(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = [
            .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100),
            .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10), .seconds(30),
        ]
        factory.valueHistogramBuckets["proxima_batch_size"] = [1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64]
        return factory
    }
}
