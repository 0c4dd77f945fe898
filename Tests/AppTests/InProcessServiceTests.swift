// InProcessServiceTests: the whole service as `proxima serve` assembles it (buildApplication), in process, on
// the in-memory store and a tiny chat model — chat, pairs, feedback, an operator phase, the gate, publishing,
// the swap and rollback, KTO on thumbs, judges, a damaged serving version, and a restart after a crash in the
// middle of a phase. Seconds, not minutes: the real model is not needed. InProcessRequestTests and
// InProcessOperatorTests hold the rest; InProcess.swift is their fixture.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Inference
import Learning
import Llama
import Logging
import ModelFiles
import Prometheus
import ProximaApp
import ProximaCore
import ProximaNumerics
import Service
import Simulators
import TestModels
import TestSupport
import XCTest

final class InProcessServiceTests: XCTestCase {
    func testOperatorPhaseIsGatedPublishedSwappedAndRolledBack() async throws {
        let server = try await server(settings())
        try await server.app.test(.router) { client in
            for k in 0..<4 {
                let (pair, version) = try await client.chatPair(seed: k)
                XCTAssertEqual(version, "v0")
                try await client.choose(pair, 0)
            }
            let phase = try await client.runPhase()
            XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
            XCTAssertEqual(phase["result_version"] as? String, "v1")
            XCTAssertEqual(phase["pairs_used"] as? Int, 4)
            let config = try XCTUnwrap(phase["config"] as? [String: Any])
            XCTAssertEqual(config["steps"] as? Int, 2, "the phase row keeps its settings in the snake_case form")
            do { let value = try await client.serving(); XCTAssertEqual(value, "v1") }
            do { let value = try await client.chatPair(seed: 9).version; XCTAssertEqual(value, "v1") }

            let rollback = try await client.execute(uri: "/admin/policies/v0/activate", method: .post)
            XCTAssertEqual(rollback.status, .ok, String(buffer: rollback.body))
            do { let value = try await client.chatPair(seed: 10).version; XCTAssertEqual(value, "v0") }
            let promote = try await client.execute(uri: "/admin/policies/v1/activate", method: .post)
            XCTAssertEqual(promote.status, .ok, String(buffer: promote.body))
            do { let value = try await client.chatPair(seed: 11).version; XCTAssertEqual(value, "v1") }
        }
    }

    /// What the dashboard reads besides the lineage: each version's win rate against v0 (the gate's own when the
    /// base is v0), and requests, feedback and labelled pairs over time.
    func testVersionsCarryTheirWinRateAgainstV0AndActivityIsCounted() async throws {
        let server = try await server(settings())
        try await server.app.test(.router) { client in
            for round in 0..<2 {
                for k in 0..<4 {
                    let (pair, _) = try await client.chatPair(seed: 10 * round + k)
                    try await client.choose(pair, k % 2)
                }
                let phase = try await client.runPhase()
                XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
            }
            let policies = try await client.json("/admin/policies")
            let versions = try XCTUnwrap(policies["data"] as? [[String: Any]])
            XCTAssertEqual(versions.map { $0["id"] as? String }, ["v0", "v1", "v2"])
            for version in versions.dropFirst() {
                let metrics = try XCTUnwrap(version["metrics"] as? [String: Any])
                let vsInitial = try XCTUnwrap(metrics["vs_initial"] as? [String: Any], "\(metrics)")
                XCTAssertEqual(vsInitial["prompts"] as? Int, 3)
                XCTAssertEqual((vsInitial["wins"] as? Int ?? 0) + (vsInitial["ties"] as? Int ?? 0) + (vsInitial["losses"] as? Int ?? 0), 3)
                if version["parent"] as? String == "v0" {
                    XCTAssertEqual(vsInitial["win_rate"] as? Double, metrics["win_rate"] as? Double, "v1's gate is against v0")
                }
            }

            let activity = try await client.json("/admin/activity?bucket=minute")
            XCTAssertEqual(activity["bucket"] as? Int, 60)
            let buckets = try XCTUnwrap(activity["data"] as? [[String: Any]])
            func total(_ key: String) -> Int { buckets.reduce(0) { $0 + ($1[key] as? Int ?? 0) } }
            XCTAssertEqual(total("requests"), 8)
            XCTAssertEqual(total("pairs"), 8)
            XCTAssertEqual(total("labelled_pairs"), 8)
            XCTAssertEqual(buckets.reduce(0) { $0 + (($1["feedback"] as? [String: Int])?["user"] ?? 0) }, 8)
            XCTAssertEqual(buckets.map { $0["start"] as? Int ?? 0 }, buckets.map { $0["start"] as? Int ?? 0 }.sorted())
            XCTAssertTrue(buckets.allSatisfy { ($0["start"] as? Int ?? 1) % 60 == 0 })

            for (query, param) in [("bucket=week", "bucket"), ("since=yesterday", "since"), ("bucket=minute&since=0", "since")] {
                let bad = try await client.execute(uri: "/admin/activity?\(query)", method: .get)
                XCTAssertEqual(bad.status, .badRequest, query)
                XCTAssertTrue(String(buffer: bad.body).contains("\"param\":\"\(param)\""), String(buffer: bad.body))
            }
        }
    }

    /// With `learner.loss: kto` thumbs train on their own: thumbs on greedy replies (one sample, no pair) make a
    /// phase, which a pairwise loss refuses for want of pairs; a choice on a pair adds one desirable and one
    /// undesirable response.
    func testKTOTrainsOnThumbsOfGreedyRepliesAndChoices() async throws {
        let server = try await server(settings { $0.learner.phase.loss = .kto })
        try await server.app.test(.router) { client in
            for k in 0..<3 {
                let chat = try await client.json("/v1/chat/completions", method: .post, body: """
                    {"messages": [{"role": "user", "content": "Greedy \(k)."}], "max_tokens": 6, "temperature": 0}
                    """)
                let info = try XCTUnwrap(chat["proxima"] as? [String: Any])
                XCTAssertNil(info["pair_id"] as? String, "a greedy reply has no pair")
                let id = try XCTUnwrap(chat["id"] as? String)
                let rating = k == 1 ? "down" : "up"
                _ = try await client.json("/v1/feedback", method: .post, body: #"{"response_id": "\#(id)", "rating": "\#(rating)"}"#)
            }
            let pairwise = try await client.execute(uri: "/admin/phases", method: .post, headers: [.contentType: "application/json"],
                                                    body: ByteBuffer(string: #"{"loss": "dpo"}"#))
            XCTAssertEqual(pairwise.status, .conflict, "thumbs on greedy replies make no pairs: \(String(buffer: pairwise.body))")
            let (pair, _) = try await client.chatPair(seed: 4)
            try await client.choose(pair, 1)
            let phase = try await client.runPhase()
            XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
            XCTAssertEqual(phase["pairs_used"] as? Int, 4, "three thumbed replies and one chosen pair")
            let config = try XCTUnwrap(phase["config"] as? [String: Any])
            XCTAssertEqual(config["loss"] as? String, "kto")
            let metrics = try XCTUnwrap(phase["metrics"] as? [String: Any])
            let steps = try XCTUnwrap(metrics["steps"] as? [[String: Any]])
            XCTAssertNotNil(steps.last?["kto_reference_point"], "\(steps)")
        }
    }

    /// A front end that keeps its own message ids (Open WebUI) tags each request with `proxima.client_ref` and
    /// rates by it: the thumb lands on the latest response with that reference; an unknown reference is 404, and
    /// ambiguous or malformed ones are 400.
    func testAResponseCanBeRatedByTheClientsOwnReference() async throws {
        let server = try await server(settings())
        try await server.app.test(.router) { client in
            var ids: [String] = []
            for seed in 0..<2 {   // the same reference twice (a regenerated message): the latest counts
                let chat = try await client.json("/v1/chat/completions", method: .post, body: """
                    {"messages": [{"role": "user", "content": "Hi \(seed)"}], "max_tokens": 4, "seed": \(seed),
                     "proxima": {"client_ref": "openwebui:chat-1:msg-1"}}
                    """)
                ids.append(try XCTUnwrap(chat["id"] as? String))
            }
            let thumb = try await client.json("/v1/feedback", method: .post,
                                              body: #"{"client_ref": "openwebui:chat-1:msg-1", "rating": "down", "event_id": "owui-1"}"#)
            XCTAssertEqual(thumb["response_id"] as? String, ids[1])
            XCTAssertEqual(thumb["status"] as? String, "recorded")
            let retry = try await client.json("/v1/feedback", method: .post,
                                              body: #"{"client_ref": "openwebui:chat-1:msg-1", "rating": "down", "event_id": "owui-1"}"#)
            XCTAssertEqual(retry["status"] as? String, "duplicate")

            let unknown = try await client.execute(uri: "/v1/feedback", method: .post, headers: [.contentType: "application/json"],
                                                   body: ByteBuffer(string: #"{"client_ref": "openwebui:chat-1:nope", "rating": "up"}"#))
            XCTAssertEqual(unknown.status, .notFound)
            XCTAssertTrue(String(buffer: unknown.body).contains(#""param":"client_ref""#), String(buffer: unknown.body))
            for (body, param) in [(#"{"client_ref": "x", "response_id": "\#(ids[0])", "rating": "up"}"#, "client_ref"),
                                  (#"{"client_ref": "openwebui:chat-1:msg-1", "choice": 0}"#, "choice")] {
                let bad = try await client.execute(uri: "/v1/feedback", method: .post, headers: [.contentType: "application/json"],
                                                   body: ByteBuffer(string: body))
                XCTAssertEqual(bad.status, .badRequest, body)
                XCTAssertTrue(String(buffer: bad.body).contains(#""param":"\#(param)""#), String(buffer: bad.body))
            }
            let long = String(repeating: "r", count: 257)
            let tooLong = try await client.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                                                   body: ByteBuffer(string: #"{"messages": [{"role": "user", "content": "Hi"}], "proxima": {"client_ref": "\#(long)"}}"#))
            XCTAssertEqual(tooLong.status, .badRequest)
            XCTAssertTrue(String(buffer: tooLong.body).contains("proxima.client_ref"), String(buffer: tooLong.body))
        }
    }

    /// A labeller that cannot be reached (a remote judge down) labels nothing — no pair gets a verdict it did
    /// not give — and the learner goes on training on the pairs users labelled.
    func testAnUnreachableJudgeLabelsNothingAndLearningGoesOn() async throws {
        let server = try await server(settings { $0.learner.simulator = "remote:http://127.0.0.1:1/v1?attempts=1&timeout=2" })
        try await server.app.test(.router) { client in
            let unlabelled = try await client.chatPair(seed: 20).pair
            for k in 0..<3 {
                let (pair, _) = try await client.chatPair(seed: k)
                try await client.choose(pair, 0)
            }
            let phase = try await client.runPhase()
            XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
            XCTAssertEqual(phase["pairs_used"] as? Int, 3)
            let export = try await client.execute(uri: "/admin/pairs/export", method: .get)
            XCTAssertFalse(String(buffer: export.body).contains(unlabelled), "the judge's pair stays unlabelled")
        }
    }

    /// Every version file is checked against its sha256 when loaded. When the serving version's files are
    /// damaged at startup, its newest intact ancestor serves instead (committed, and reported by /ready), and
    /// activating the damaged version is refused.
    func testADamagedServingVersionFallsBackToItsIntactAncestor() async throws {
        let store = InMemoryProximaStore()
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-policies-\(UUID().uuidString)")
        let first = try await server(settings(), store: store, files: PolicyDirectory(folder))
        try await first.app.test(.router) { client in
            for k in 0..<4 {
                let (pair, _) = try await client.chatPair(seed: k)
                try await client.choose(pair, 0)
            }
            let phase = try await client.runPhase()
            XCTAssertEqual(phase["result_version"] as? String, "v1")
        }
        let v1 = try await store.policyVersion(id: "v1")
        let adapter = try XCTUnwrap(v1?.adapter)
        try Data("not an adapter".utf8).write(to: folder.appendingPathComponent(adapter.path))

        let second = try await server(settings(), store: store, files: PolicyDirectory(folder))
        XCTAssertEqual(second.servingAtStart, "v0")
        let serving = try await store.servingVersion()
        XCTAssertEqual(serving?.id, "v0", "the fallback is committed")
        try await second.app.test(.router) { client in
            let ready = try await client.json("/ready")
            let warnings = try XCTUnwrap(ready["warnings"] as? [String])
            XCTAssertTrue(warnings.first?.contains("serving v0 instead of v1") ?? false, "\(warnings)")
            XCTAssertTrue(warnings.first?.contains("corrupt") ?? false, "\(warnings)")
            let activate = try await client.execute(uri: "/admin/policies/v1/activate", method: .post)
            XCTAssertEqual(activate.status, .conflict, String(buffer: activate.body))
            do { let value = try await client.chatPair(seed: 9).version; XCTAssertEqual(value, "v0") }
        }
    }

    /// After a crash in the middle of a phase, the next start marks it failed, rejects what it produced and
    /// removes half-written files; serving goes on from the version that served.
    func testARestartAfterACrashMidPhaseCleansUp() async throws {
        let store = InMemoryProximaStore()
        _ = try await store.ensureBaseVersion(baseModelSHA256: String(repeating: "b", count: 64), at: Date())
        let phase = try await store.createPhase(PhaseDraft(trigger: .operator, config: try JSONObject(encoding: PhaseSettings()),
                                                           baseVersion: "v0", createdAt: Date()))
        _ = try await store.startPhase(id: phase.id, at: Date())
        let policies = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-policies-\(UUID().uuidString)")
        let leftover = policies.appendingPathComponent(".tmp-half-written")
        try FileManager.default.createDirectory(at: leftover, withIntermediateDirectories: true)

        let server = try await server(settings(), store: store, files: PolicyDirectory(policies))
        XCTAssertEqual(server.servingAtStart, "v0")
        let stored = try await store.phase(id: phase.id)
        let failed = try XCTUnwrap(stored)
        XCTAssertEqual(failed.status, .failed)
        XCTAssertTrue(failed.error?.contains("interrupted") ?? false, failed.error ?? "no error")
        XCTAssertFalse(FileManager.default.fileExists(atPath: leftover.path))
        try await server.app.test(.router) { client in
            do { let value = try await client.chatPair(seed: 1).version; XCTAssertEqual(value, "v0") }
        }
    }
}
