// PolicyJSON: the wire shapes shared by the operator routes: a policy version, and OpenAI's list wrapper.

import Foundation
import ProximaCore

/// `{"object": "list", "data": [...]}`.
struct ListJSON<T: Encodable>: Encodable {
    var object = "list"
    var data: [T]
}

/// A policy version as `GET /admin/policies` and the activation route show it.
struct PolicyJSON: Encodable {
    var id: String
    var object = "policy"
    var status: String
    var parent: String?
    var created: Int
    var phaseID: Int64?
    var adapter: String?
    var adapterSHA256: String?
    var baseModelSHA256: String
    var metrics: JSONObject?
    enum CodingKeys: String, CodingKey {
        case id, object, status, parent, created, adapter, metrics
        case phaseID = "phase_id", adapterSHA256 = "adapter_sha256", baseModelSHA256 = "base_model_sha256"
    }
    init(_ v: PolicyVersionRecord) {
        id = v.id; status = v.status.rawValue; parent = v.parent; created = Int(v.createdAt.timeIntervalSince1970)
        // The version's directory (the PEFT adapter directory), as the docs say; its sha256 is the adapter file's.
        phaseID = v.phaseID; adapter = v.adapter.map { ($0.path as NSString).deletingLastPathComponent }; adapterSHA256 = v.adapter?.sha256
        baseModelSHA256 = v.baseModelSHA256; metrics = v.metrics
    }
}
