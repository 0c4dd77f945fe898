// InProcessOperatorTests: what operators do through the whole service in process — phase overrides, bounded
// input, idempotent imports, cancelled phases, and the learner woken by feedback and on schedule.

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

final class InProcessOperatorTests: XCTestCase {
    /// Overrides are checked before a phase is queued; with no pair to train on the request is refused (409);
    /// a phase whose pairs turn out unusable (here: longer than the model's context) fails, saying why.
    func testOverridesAreCheckedAndAPhaseWithoutUsablePairsFails() async throws {
        let server = try await server(settings())
        try await server.app.test(.router) { client in
            let bad = try await client.execute(uri: "/admin/phases", method: .post, headers: [.contentType: "application/json"],
                                               body: ByteBuffer(string: #"{"stepz": 3}"#))
            XCTAssertEqual(bad.status, .badRequest)
            XCTAssertTrue(String(buffer: bad.body).contains("unknown phase setting 'stepz'"), String(buffer: bad.body))
            let none = try await client.execute(uri: "/admin/phases", method: .post)
            XCTAssertEqual(none.status, .conflict)
            XCTAssertTrue(String(buffer: none.body).contains("no_pairs"), String(buffer: none.body))

            let long = Array(repeating: 65, count: TinyChatModel.config.contextLength + 10)
            let pair: [String: Any] = [
                "prompt": [["role": "user", "content": "long"]], "chosen": [["role": "assistant", "content": "a"]],
                "rejected": [["role": "assistant", "content": "b"]], "prompt_token_ids": long, "chosen_token_ids": [66],
                "rejected_token_ids": [67], "chosen_logprobs": [-1.0], "rejected_logprobs": [-2.0], "policy_version": "v0", "source": "user",
            ]
            let line = String(decoding: try JSONSerialization.data(withJSONObject: pair), as: UTF8.self)
            let imported = try await client.json("/admin/pairs/import", method: .post, body: line)
            XCTAssertEqual(imported["imported"] as? Int, 1)
            let phase = try await client.runPhase()
            XCTAssertEqual(phase["status"] as? String, "failed")
            XCTAssertEqual(phase["error"] as? String, "no usable labelled pairs")
            do { let value = try await client.serving(); XCTAssertEqual(value, "v0") }
        }
    }

    /// Operator input is bounded: absurd settings and settings whose training would need more memory than
    /// `learner.max_phase_memory_mb` are refused with the limit named, and nothing is queued.
    func testOperatorInputIsBoundedAndMemoryChecked() async throws {
        let server = try await server(settings { $0.learner.maxPhaseMemoryMB = 1 })
        try await server.app.test(.router) { client in
            let (pair, _) = try await client.chatPair(seed: 1)
            try await client.choose(pair, 0)
            for (body, expected) in [(#"{"steps": 100000000}"#, "steps must be in 1...100000"), (#"{"rank": 4096}"#, "rank in 1...1024"),
                                     (#"{"ensemble": 1000}"#, "ensemble must be in 1...64"), (#"{"batch_size": 100000}"#, "batch_size must be in"),
                                     (#"{}"#, "more than learner.max_phase_memory_mb (1 MiB) allows")] {
                let response = try await client.execute(uri: "/admin/phases", method: .post, headers: [.contentType: "application/json"],
                                                        body: ByteBuffer(string: body))
                XCTAssertEqual(response.status, .badRequest, body)
                XCTAssertTrue(String(buffer: response.body).contains(expected), "\(body): \(String(buffer: response.body))")
            }
            let phases = try await client.json("/admin/phases")
            XCTAssertEqual((phases["data"] as? [Any])?.count, 0, "nothing was queued")
        }
        let defaults = PhaseSettings()
        let bytes = defaults.estimatedBytes(model: TinyChatModel.config)
        XCTAssertGreaterThan(bytes, 1 << 20)
        XCTAssertLessThan(bytes, 64 << 20, "the tiny model's default phase is small")
    }

    /// Importing the same pairs again stores nothing new: each pair is named by its content, and duplicates,
    /// in the file or already stored, are counted and skipped.
    func testImportIsIdempotent() async throws {
        let store = InMemoryProximaStore()
        let server = try await server(settings(), store: store)
        func line(_ chosen: Int) -> String {
            let pair: [String: Any] = [
                "prompt": [["role": "user", "content": "q"]], "chosen": [["role": "assistant", "content": "a"]],
                "rejected": [["role": "assistant", "content": "b"]], "prompt_token_ids": [1, 2, 3], "chosen_token_ids": [chosen],
                "rejected_token_ids": [9], "chosen_logprobs": [-1.0], "rejected_logprobs": [-2.0], "policy_version": "v0", "source": "user",
            ]
            return String(decoding: try! JSONSerialization.data(withJSONObject: pair), as: UTF8.self)
        }
        let body = [line(5), line(5), line(6)].joined(separator: "\n")
        try await server.app.test(.router) { client in
            let first = try await client.json("/admin/pairs/import", method: .post, body: body)
            XCTAssertEqual(first["imported"] as? Int, 2)
            XCTAssertEqual(first["duplicates"] as? Int, 1)
            let again = try await client.json("/admin/pairs/import", method: .post, body: body)
            XCTAssertEqual(again["imported"] as? Int, 0)
            XCTAssertEqual(again["duplicates"] as? Int, 3)
        }
        let labelled = try await store.countLabelledPairs(LabelledPairQuery())
        XCTAssertEqual(labelled, 2)
    }

    /// An operator cancels a queued phase at once and a running one at its next step; the pairs it took are
    /// free again, nothing is published, and an ended phase cannot be cancelled.
    func testPhasesCanBeCancelled() async throws {
        let server = try await server(settings { $0.learner.phase.steps = 20_000 })
        try await server.app.test(.router) { client in
            for k in 0..<4 {
                let (pair, _) = try await client.chatPair(seed: k)
                try await client.choose(pair, 0)
            }
            let firstPhase = try await client.json("/admin/phases", method: .post)
            let running = try XCTUnwrap(firstPhase["id"] as? Int)
            // Wait until the first is training (it took the pairs), then label more and queue a second behind it.
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline {
                let phase = try await client.json("/admin/phases/\(running)")
                if phase["status"] as? String == "running", (phase["pairs_used"] as? Int ?? 0) > 0 { break }
                try await Task.sleep(for: .milliseconds(20))
            }
            // While it runs, its curve is every step so far (the dashboard draws it).
            var curve: [[String: Any]] = []
            while ContinuousClock.now < deadline {
                curve = try await client.json("/admin/phases/\(running)")["curve"] as? [[String: Any]] ?? []
                if curve.count >= 2 {
                    XCTAssertEqual(curve.prefix(2).map { $0["step"] as? Int }, [1, 2])
                    XCTAssertNotNil(curve.first?["loss"] as? Double)
                    break
                }
                try await Task.sleep(for: .milliseconds(20))
            }
            XCTAssertGreaterThanOrEqual(curve.count, 2, "the running phase shows its curve")
            let (more, _) = try await client.chatPair(seed: 10)
            try await client.choose(more, 1)
            let secondPhase = try await client.json("/admin/phases", method: .post)
            let queued = try XCTUnwrap(secondPhase["id"] as? Int)
            let cancelQueued = try await client.execute(uri: "/admin/phases/\(queued)/cancel", method: .post)
            XCTAssertEqual(cancelQueued.status, .ok, String(buffer: cancelQueued.body))
            let second = try await client.json("/admin/phases/\(queued)")
            XCTAssertEqual(second["status"] as? String, "cancelled")
            XCTAssertEqual(second["error"] as? String, "cancelled by an operator while queued")

            let cancelRunning = try await client.execute(uri: "/admin/phases/\(running)/cancel", method: .post)
            XCTAssertEqual(cancelRunning.status, .accepted, String(buffer: cancelRunning.body))
            let first = try await client.waitForPhase(id: running)
            XCTAssertEqual(first["status"] as? String, "cancelled", "\(first)")
            XCTAssertEqual(first["error"] as? String, "cancelled by an operator while training")
            XCTAssertNil(first["result_version"] as? String)
            do { let value = try await client.serving(); XCTAssertEqual(value, "v0") }

            let again = try await client.execute(uri: "/admin/phases/\(running)/cancel", method: .post)
            XCTAssertEqual(again.status, .conflict)
            let unknown = try await client.execute(uri: "/admin/phases/999/cancel", method: .post)
            XCTAssertEqual(unknown.status, .notFound)
            // The cancelled phases' pairs are free again: a new phase has something to train on.
            let next = try await client.execute(uri: "/admin/phases", method: .post, headers: [.contentType: "application/json"],
                                                body: ByteBuffer(string: #"{"steps": 1}"#))
            XCTAssertEqual(next.status, .accepted, String(buffer: next.body))
        }
    }

    /// With automatic phases, stored feedback wakes the learner (it does not poll): the trigger's pairs start a phase.
    func testFeedbackWakesTheLearner() async throws {
        let files = InMemoryPolicyFiles()
        let server = try await server(settings { $0.learner.automatic = true; $0.learner.triggerPairs = 3 }, files: files)
        try await server.app.test(.router) { client in
            for k in 0..<3 {
                let (pair, _) = try await client.chatPair(seed: k)
                try await client.choose(pair, 1)
            }
            let phase = try await client.waitForPhase(id: 1)
            XCTAssertEqual(phase["trigger"] as? String, "pairs")
            XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
        }
        XCTAssertEqual(files.names.count, 1, "the published version's files")
    }

    /// A schedule starts a phase when its time comes and a labelled pair waits (the learner sleeps until then).
    func testTheScheduleStartsAPhase() async throws {
        let server = try await server(settings {
            $0.learner.automatic = true; $0.learner.triggerPairs = 0; $0.learner.scheduleSeconds = 1
        })
        try await server.app.test(.router) { client in
            let (pair, _) = try await client.chatPair(seed: 3)
            try await client.choose(pair, 0)
            let phase = try await client.waitForPhase(id: 1)
            XCTAssertEqual(phase["trigger"] as? String, "schedule")
            XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
        }
    }

    /// On a shared database `proxima train` creates its offline phase while the learner runs: the learner, woken by
    /// it, leaves it to the command (which starts it at once) and runs the operator's phase queued after it.
    func testTheLearnerLeavesAnOfflinePhaseToTheCommandThatMadeIt() async throws {
        let store = InMemoryProximaStore()
        let server = try await server(settings(), store: store)
        try await server.app.test(.router) { client in
            for k in 0..<4 { try await client.choose(try await client.chatPair(seed: k).pair, 0) }
            let offline = try await store.createPhase(PhaseDraft(trigger: .offline, config: [:], baseVersion: "v0", createdAt: Date()))
            let phase = try await client.runPhase()
            XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
            XCTAssertEqual(phase["trigger"] as? String, "operator")
            let status = try await store.phase(id: offline.id)?.status
            XCTAssertEqual(status, .queued, "the learner did not touch the offline phase")
        }
    }
}
