// OperationsRouterTests: the model list, health and readiness, Prometheus metrics with the proxima_* names,
// and bearer-key authentication (401 without a valid key, 403 for a user key on an admin route).

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import ProximaCore
import Store
import XCTest

final class OperationsRouterTests: XCTestCase {
    func testModelsHealthAndReady() async throws {
        let server = try await TestServer()
        try await server.test { client in
            let models = try await client.get("/v1/models").jsonObject()
            XCTAssertEqual(models["object"] as? String, "list")
            let model = try XCTUnwrap((models["data"] as? [[String: Any]])?.first)
            XCTAssertEqual(model["id"] as? String, SharedModel.bundle.name)
            XCTAssertEqual(model["object"] as? String, "model")
            let health = try await client.get("/health")
            XCTAssertEqual(try health.jsonObject()["status"] as? String, "ok")
            let ready = try await client.get("/ready")
            XCTAssertEqual(ready.status, .ok)
            XCTAssertEqual(try ready.jsonObject()["policy_version"] as? String, "v0")
        }
    }

    func testMetricsAreExposedWithProximaNames() async throws {
        let server = try await TestServer()
        let text = try await server.test { client -> String in
            let json = try await client.complete()
            _ = try await client.post("/v1/feedback", json: #"{"response_id": "\#(json["id"] as! String)", "rating": "down"}"#)
            let metrics = try await client.get("/metrics")
            XCTAssertEqual(metrics.status, .ok)
            XCTAssertTrue(metrics.headers[.contentType]?.hasPrefix("text/plain") ?? false)
            return String(buffer: metrics.body)
        }
        for name in ["proxima_requests_total{route=\"/v1/chat/completions\",status=\"200\"} 1",
                     "proxima_prompt_tokens_total", "proxima_prompt_cached_tokens_total", "proxima_generated_tokens_total",
                     "proxima_time_to_first_token_seconds_bucket{le=\"0.005\"}", "proxima_time_to_first_token_seconds_bucket{le=\"30.0\"}",
                     "proxima_chat_completion_duration_seconds_bucket", "proxima_queue_depth", "proxima_active_sequences ",
                     "proxima_batch_size_bucket", "proxima_feedback_events_total{kind=\"thumb\",source=\"user\"} 1",
                     "proxima_feedback_events_total{kind=\"choice\",source=\"user\"} 0", "proxima_serving_policy{version=\"v0\"} 1"] {
            XCTAssertTrue(text.contains(name), "missing \(name) in\n\(text)")
        }
    }

    func testBearerKeysGuardTheAPIAndAdminRoutesRefuseUserKeys() async throws {
        let server = try await TestServer(keys: APIKeys(userKeys: ["u-key"], adminKeys: ["a-key"]))
        let id = try await server.test { client -> String in
            try await client.get("/v1/models").assertError(.unauthorized, type: "authentication_error", code: "invalid_api_key")
            try await client.get("/v1/models", headers: [.authorization: "Bearer wrong"]).assertError(.unauthorized, type: "authentication_error")
            try await client.get("/v1/models", headers: [.authorization: "Basic u-key"]).assertError(.unauthorized, type: "authentication_error")
            try await client.post("/v1/chat/completions", json: #"{"messages": []}"#).assertError(.unauthorized, type: "authentication_error")
            for key in ["u-key", "a-key"] {
                let models = try await client.get("/v1/models", headers: [.authorization: "Bearer \(key)"])
                XCTAssertEqual(models.status, .ok)
            }
            try await client.get("/admin/policies", headers: [.authorization: "Bearer u-key"])
                .assertError(.forbidden, type: "permission_error")
            try await client.get("/admin/policies").assertError(.unauthorized, type: "authentication_error")
            let policies = try await client.get("/admin/policies", headers: [.authorization: "Bearer a-key"]).jsonObject()
            XCTAssertEqual((policies["data"] as? [[String: Any]])?.first?["id"] as? String, "v0")
            for open in ["/health", "/metrics"] {
                let response = try await client.get(open)
                XCTAssertEqual(response.status, .ok, open)
            }
            return try await client.complete(headers: [.authorization: "Bearer u-key"])["id"] as! String
        }
        let logged = try await server.store.loggedRequest(id: id)
        XCTAssertEqual(logged?.request.apiKeyID, "user-1")
    }

    func testMetricsCanRequireAKey() async throws {
        var http = HTTPSettings()
        http.metricsRequireKey = true
        let server = try await TestServer(keys: APIKeys(userKeys: ["u-key"], adminKeys: ["a-key"]), http: http)
        try await server.test { client in
            try await client.get("/metrics").assertError(.unauthorized, type: "authentication_error")
            for key in ["u-key", "a-key"] {
                let metrics = try await client.get("/metrics", headers: [.authorization: "Bearer \(key)"])
                XCTAssertEqual(metrics.status, .ok)
            }
            let health = try await client.get("/health")
            XCTAssertEqual(health.status, .ok)
        }
    }
}
