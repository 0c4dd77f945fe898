// OperationsController: the routes around chat: the model list, liveness and readiness probes, Prometheus
// metrics, and the operator's list of policy versions (admin key).

import Foundation
import Hummingbird
import Prometheus
import Service
import ProximaCore

struct OperationsController {
    let chat: ChatService
    let store: any ProximaStore
    let registry: PrometheusCollectorRegistry
    let modelName: String
    let startedAt: Date
    /// What /ready reports beside "ready" (a version served in place of a damaged one).
    let warnings: @Sendable () async -> [String]
    /// The versions `/v1/models` lists as pinnable (`<name>@<version>`); nil lists none.
    var versions: PolicyRegistry? = nil

    // MARK: Models

    private struct Model: Encodable {
        var id: String
        var object = "model"
        var created: Int
        var ownedBy = "proxima"
        enum CodingKeys: String, CodingKey { case id, object, created, ownedBy = "owned_by" }
    }

    /// GET /v1/models: the served model (whatever version serves), its no-learn alias for requests that must not
    /// teach (an Open WebUI task model), and `<name>@<version>` for every version that can be pinned.
    func models(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let created = Int(startedAt.timeIntervalSince1970)
        var ids = [modelName, modelName + ChatCompletionRequest.noLearnSuffix]
        if let versions { ids += try await versions.pinnable().map { "\(modelName)@\($0)" } }
        return try JSONResponse.make(ListJSON(data: ids.map { Model(id: $0, created: created) }))
    }

    // MARK: Probes

    private struct Status: Encodable {
        var status: String
        var model: String?
        var policyVersion: String?
        var warnings: [String]?
        enum CodingKeys: String, CodingKey { case status, model, warnings, policyVersion = "policy_version" }
    }

    /// GET /health: the process is up and serving HTTP.
    func health(_ request: Request, context: ProximaRequestContext) throws -> Response {
        try JSONResponse.make(Status(status: "ok"))
    }

    /// GET /ready: the model is loaded (it is before the server starts) and the database commits a write.
    func ready(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        do {
            try await store.checkWritable()
        } catch {
            throw APIError.unavailable("Not ready: the database is not writable (\(error)).")
        }
        let warnings = await warnings()
        return try JSONResponse.make(Status(status: "ready", model: modelName, policyVersion: chat.engine.policy.id,
                                            warnings: warnings.isEmpty ? nil : warnings))
    }

    /// GET /metrics: Prometheus text exposition.
    func metrics(_ request: Request, context: ProximaRequestContext) -> Response {
        Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                 body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }

    // MARK: Admin

    /// GET /admin/policies: every policy version, oldest first.
    func policies(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let versions: [PolicyVersionRecord]
        do {
            versions = try await store.policyVersions()
        } catch {
            throw APIError.server("The policy versions could not be read: \(error)")
        }
        return try JSONResponse.make(ListJSON(data: versions.map(PolicyJSON.init)))
    }
}
