// AdminController: the operator routes (admin key): policy versions and their activation (promote, roll
// back), phases (start with overrides, list, inspect with live progress), labelled pairs out (JSON lines,
// optionally gzip) and in, activity over time, and the processes serving from the store.

import Foundation
import Hummingbird
import ProximaCore
import Service

struct AdminController {
    let admin: AdminService
    let bodyLimit: Int

    // MARK: Policies

    /// GET /admin/policies: every version, oldest first.
    func policies(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        try JSONResponse.make(ListJSON(data: try await admin.policies().map(PolicyJSON.init)))
    }

    /// POST /admin/policies/{id}/activate: serve this version (promotion or rollback).
    func activate(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        do {
            let change = try await admin.activate(id)
            struct Body: Encodable { var serving: PolicyJSON; var retired: PolicyJSON? }
            return try JSONResponse.make(Body(serving: PolicyJSON(change.serving), retired: change.retired.map(PolicyJSON.init)))
        } catch RegistryError.unknownVersion {
            throw APIError.notFound("No policy version '\(id)'.", param: "id")
        } catch let error as RegistryError {
            throw Self.notActivatable(id, error)
        } catch let error as StoreError {
            throw Self.notActivatable(id, error)
        }
    }

    /// POST /admin/policies/import {"path": DIR}: registers the PEFT adapter in the server's directory DIR as a
    /// candidate version (201); 400 naming the file and the problem when it cannot be applied exactly.
    func importAdapter(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        struct Body: Decodable { var path: String }
        let body = try await JSONBody.decode(Body.self, from: request, limit: bodyLimit)
        do {
            return try JSONResponse.make(PolicyJSON(try await admin.importAdapter(directory: body.path)), status: .created)
        } catch let error as AdminError {
            throw APIError.invalidRequest("The adapter cannot be imported: \(error).", param: "path", code: "invalid_adapter")
        }
    }

    private static func notActivatable(_ id: String, _ error: any Error) -> APIError {
        APIError(status: .conflict, message: "Version '\(id)' cannot be activated: \(error).", type: "invalid_request_error", code: "not_activatable")
    }

    // MARK: Phases

    private struct PhaseJSON: Encodable {
        var id: Int64
        var object = "phase"
        var status: String
        var trigger: String
        var steps: Int?
        var pairsUsed: Int
        var baseVersion: String
        var resultVersion: String?
        var created: Int
        var started: Int?
        var finished: Int?
        var config: JSONObject
        var metrics: JSONObject?
        var error: String?
        var progress: PhaseProgress?
        var curve: [PhaseStepReport]?
        enum CodingKeys: String, CodingKey {
            case id, object, status, trigger, steps, created, started, finished, config, metrics, error, progress, curve
            case pairsUsed = "pairs_used", baseVersion = "base_version", resultVersion = "result_version"
        }
        init(_ view: PhaseView) {
            let r = view.record
            id = r.id; status = r.status.rawValue; trigger = r.trigger.rawValue; pairsUsed = r.pairsUsed
            baseVersion = r.baseVersion; resultVersion = r.resultVersion; config = r.config; metrics = r.metrics
            error = r.error; progress = view.progress; curve = view.curve
            created = Int(r.createdAt.timeIntervalSince1970)
            started = r.startedAt.map { Int($0.timeIntervalSince1970) }
            finished = r.finishedAt.map { Int($0.timeIntervalSince1970) }
            if case let .number(n)? = r.config["steps"] { steps = Int(n) }
        }
    }

    /// POST /admin/phases: queue a phase now (202); the body's keys override the learner's phase settings.
    func startPhase(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let overrides = try await JSONBody.decode(JSONObject.self, from: request, limit: bodyLimit, empty: [:])
        do {
            return try JSONResponse.make(PhaseJSON(try await admin.startPhase(overrides: overrides)), status: .accepted)
        } catch let error as SettingsError {
            throw APIError.invalidRequest("\(error).", param: error.key, code: "invalid_phase_settings")
        } catch let error as LearnerError {
            throw APIError.invalidRequest("\(error)", code: "invalid_phase_settings")
        } catch let error as AdminError {
            throw APIError(status: .conflict, message: "Nothing to train on: \(error).", type: "invalid_request_error", code: "no_pairs")
        }
    }

    /// POST /admin/phases/{id}/cancel: stop a queued phase at once (200, `cancelled`) or a running one at its next
    /// training step (202, still `running` until it stops); 409 for a phase that has ended.
    func cancelPhase(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        guard let id = Int64(try context.parameters.require("id")) else { throw APIError.notFound("No phase with that id.", param: "id") }
        do {
            let view = try await admin.cancelPhase(id)
            return try JSONResponse.make(PhaseJSON(view), status: view.record.status == .cancelled ? .ok : .accepted)
        } catch AdminError.unknownPhase {
            throw APIError.notFound("No phase \(id).", param: "id")
        } catch let error as StoreError {
            throw APIError(status: .conflict, message: "Phase \(id) cannot be cancelled: it has ended (\(error)).",
                           type: "invalid_request_error", code: "not_cancellable")
        } catch let error as LearnerError {
            throw APIError(status: .conflict, message: "Phase \(id) cannot be cancelled here: \(error).",
                           type: "invalid_request_error", code: "runs_elsewhere")
        }
    }

    // MARK: Processes

    private struct ProcessJSON: Encodable {
        var id: String
        var object = "process"
        var role: String
        var hostname: String
        var pid: Int32
        var address: String
        var servingVersion: String?
        var isLearner: Bool
        var started: Int
        var lastSeen: Double
        enum CodingKeys: String, CodingKey {
            case id, object, role, hostname, pid, address, started
            case servingVersion = "serving_version", isLearner = "is_learner", lastSeen = "last_seen"
        }
        init(_ p: ProcessRecord) {
            id = p.id; role = p.role; hostname = p.hostname; pid = p.pid; address = p.address; servingVersion = p.servingVersion
            isLearner = p.isLearner; started = Int(p.startedAt.timeIntervalSince1970); lastSeen = p.lastSeen.timeIntervalSince1970
        }
    }

    /// GET /admin/replicas: the processes serving from this store — seen within three heartbeats — with their
    /// role, address, the version each serves and which one is the learner.
    func replicas(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        do {
            return try JSONResponse.make(ListJSON(data: try await admin.replicas().map(ProcessJSON.init)))
        } catch {
            throw APIError.unavailable("The processes could not be read: \(error).")
        }
    }

    /// GET /admin/phases: every phase, oldest first.
    func phases(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        try JSONResponse.make(ListJSON(data: try await admin.phases().map(PhaseJSON.init)))
    }

    /// GET /admin/phases/{id}: one phase, with live progress while it runs.
    func phase(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        guard let id = Int64(try context.parameters.require("id")) else { throw APIError.notFound("No phase with that id.", param: "id") }
        do {
            return try JSONResponse.make(PhaseJSON(try await admin.phase(id)))
        } catch AdminError.unknownPhase {
            throw APIError.notFound("No phase \(id).", param: "id")
        }
    }

    // MARK: Activity

    private struct ActivityJSON: Encodable {
        var start: Int
        var requests: Int
        var pairs: Int
        var feedback: [String: Int]
        var labelledPairs: Int
        enum CodingKeys: String, CodingKey { case start, requests, pairs, feedback, labelledPairs = "labelled_pairs" }
        init(_ b: ActivityBucket) {
            start = Int(b.start.timeIntervalSince1970); requests = b.requests; pairs = b.pairs; labelledPairs = b.labelledPairs
            feedback = Dictionary(uniqueKeysWithValues: FeedbackSource.allCases.map { ($0.rawValue, b.feedback[$0] ?? 0) })
        }
    }

    /// The bucket widths `GET /admin/activity` takes.
    static let activityBuckets = ["minute": 60, "hour": 3600, "day": 86_400]
    /// At most this many buckets in one answer (a week of hours is 168).
    static let maxActivityBuckets = 2000

    /// GET /admin/activity[?bucket=minute|hour|day][&since=<unix seconds>]: requests, feedback by source and
    /// labelled pairs per bucket (non-empty buckets, oldest first); by default the last 168 buckets.
    func activity(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let name = request.uri.queryParameters.get("bucket") ?? "hour"
        guard let width = Self.activityBuckets[name] else {
            throw APIError.invalidRequest("bucket must be minute, hour or day.", param: "bucket")
        }
        let now = admin.now.timeIntervalSince1970
        var since = now - Double(168 * width)
        if let raw = request.uri.queryParameters.get("since") {
            guard let value = Double(raw), value.isFinite, value >= 0 else {
                throw APIError.invalidRequest("since must be a time in seconds since 1970.", param: "since")
            }
            guard (now - value) / Double(width) <= Double(Self.maxActivityBuckets) else {
                throw APIError.invalidRequest("since is more than \(Self.maxActivityBuckets) \(name)s ago; use a wider bucket.", param: "since")
            }
            since = value
        }
        struct Body: Encodable { var object = "list"; var bucket: Int; var since: Int; var data: [ActivityJSON] }
        let buckets = try await admin.activity(since: Date(timeIntervalSince1970: since), bucketSeconds: width)
        return try JSONResponse.make(Body(bucket: width, since: Int(since), data: buckets.map(ActivityJSON.init)))
    }

    // MARK: Pairs

    /// GET /admin/pairs/export[?unused=true][&format=jsonl.gz]: labelled pairs as JSON lines (TRL's
    /// conversational preference format plus token ids and behavior log-probs).
    func exportPairs(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let unused = request.uri.queryParameters.get("unused") == "true"
        let format = request.uri.queryParameters.get("format") ?? "jsonl"
        guard format == "jsonl" || format == "jsonl.gz" else { throw APIError.invalidRequest("format must be jsonl or jsonl.gz.", param: "format") }
        let gz = format == "jsonl.gz"
        let lines = try await admin.exportPairs(unusedOnly: unused)
        let bytes = gz ? Gzip.compress(lines) : lines
        return Response(status: .ok,
                        headers: [.contentType: gz ? "application/gzip" : "application/x-ndjson",
                                  .contentDisposition: "attachment; filename=\"pairs.\(format)\""],
                        body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// POST /admin/pairs/import: JSON lines in the export format; each becomes a labelled pair (source import).
    func importPairs(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let buffer = try await request.body.collect(upTo: max(bodyLimit, 64 << 20))
        let pairs: [ExportedPair]
        do { pairs = try ExportedPair.parse(Data(buffer.readableBytesView), source: "body") } catch {
            throw APIError.invalidRequest("\(error)", code: "invalid_pairs")
        }
        do {
            let receipt = try await admin.importPairs(pairs, apiKeyID: context.apiKey?.id)
            struct Body: Encodable { var imported: Int; var duplicates: Int }
            return try JSONResponse.make(Body(imported: receipt.imported, duplicates: receipt.duplicates))
        } catch let error as AdminError {
            throw APIError.invalidRequest("\(error)", code: "invalid_pairs")
        }
    }
}
