// RolesTests: several processes on one shared store, in process — the in-memory twins of what PostgreSQL gives
// them (notifications, shared version files, heartbeats, the learner's election). A replica queues a phase the
// learner runs; every process swaps to what is activated anywhere; the learner serves no chat; an `all` standby
// serves chat while it waits and takes over when the learner's turn ends.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import ModelFiles
import ProximaApp
import ProximaCore
import Service
import XCTest

final class RolesTests: XCTestCase {
    private static func policies() -> PolicyDirectory {
        PolicyDirectory(FileManager.default.temporaryDirectory.appendingPathComponent("proxima-policies-\(UUID().uuidString)"))
    }

    func testReplicasTheLearnerAndAStandbyShareOneStore() async throws {
        let store = InMemoryProximaStore()
        let files = InMemorySharedVersionFiles()
        let election = InMemoryLearnerElection()
        let learnerTurn = election.candidate()
        @Sendable func sharing(_ candidate: InMemoryLearnerElection.Candidate) -> InProcess.Sharing {
            InProcess.Sharing(files: files, notifications: store, heartbeats: store, election: candidate)
        }
        // Each process has a disk of its own: versions reach the others through the shared files.
        let learner = try await InProcess.server(InProcess.settings { $0.role = .learner }, store: store, files: Self.policies(),
                                                 shared: sharing(learnerTurn))
        try await learner.app.test(.router) { l in
            try await waitUntil("the learner is elected") { learner.learner?.isLearner == true }
            let replica = try await InProcess.server(InProcess.settings { $0.role = .replica }, store: store, files: Self.policies(),
                                                     shared: sharing(election.candidate()))
            XCTAssertNil(replica.learner)
            let standby = try await InProcess.server(InProcess.settings(), store: store, files: Self.policies(), shared: sharing(election.candidate()))
            try await replica.app.test(.router) { r in
                try await standby.app.test(.router) { s in
                    // The learner serves no chat; the replica and the waiting standby do.
                    let refused = try await l.execute(uri: "/v1/chat/completions", method: .post, headers: [.contentType: "application/json"],
                                                      body: ByteBuffer(string: #"{"messages": [{"role": "user", "content": "hi"}]}"#))
                    XCTAssertEqual(refused.status.code, 421, String(buffer: refused.body))
                    XCTAssertTrue(String(buffer: refused.body).contains("replica"))
                    for k in 0..<4 {
                        let (pair, version) = try await (k % 2 == 0 ? r : s).chatPair(seed: k)
                        XCTAssertEqual(version, "v0")
                        try await r.choose(pair, k % 2)
                    }
                    XCTAssertEqual(standby.learner?.isLearner, false, "the standby waits")

                    // A phase started on the replica runs on the learner; every process then serves its result.
                    let queued = try await r.json("/admin/phases", method: .post)
                    XCTAssertEqual(queued["status"] as? String, "queued")
                    let phase = try await r.waitForPhase(id: try XCTUnwrap(queued["id"] as? Int))
                    XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
                    XCTAssertEqual(phase["result_version"] as? String, "v1")
                    try await waitUntil("v1 serves everywhere") {
                        await [learner, replica, standby].asyncAllSatisfy { $0.engine.policy.id == "v1" }
                    }
                    do { let value = try await s.chatPair(seed: 7).version; XCTAssertEqual(value, "v1") }

                    // A rollback through the replica reaches the others.
                    let rollback = try await r.execute(uri: "/admin/policies/v0/activate", method: .post)
                    XCTAssertEqual(rollback.status, .ok, String(buffer: rollback.body))
                    try await waitUntil("v0 serves everywhere") {
                        await [learner, replica, standby].asyncAllSatisfy { $0.engine.policy.id == "v0" }
                    }

                    // Every process is listed once, with its role, its version and the one learner (each process's
                    // view is its own and the heartbeats' — 100 ms apart here, late under load — so both are polled).
                    for client in [r, s] {
                        try await waitUntil("three processes are listed, one the learner") {
                            let listed = try await client.json("/admin/replicas")["data"] as? [[String: Any]] ?? []
                            return listed.count == 3 && Set(listed.compactMap { $0["id"] as? String }).count == 3
                                && Set(listed.compactMap { $0["role"] as? String }) == ["learner", "replica", "all"]
                                && listed.allSatisfy { $0["serving_version"] as? String == "v0" }
                                && listed.filter { $0["is_learner"] as? Bool == true }.map { $0["role"] as? String } == ["learner"]
                        }
                    }

                    // The learner's turn ends (its database session would): the standby takes over and runs the next phase.
                    await learnerTurn.resign()
                    try await waitUntil("the standby is elected") { standby.learner?.isLearner == true }
                    for k in 10..<12 {
                        let (pair, _) = try await r.chatPair(seed: k)
                        try await r.choose(pair, 0)
                    }
                    let next = try await r.json("/admin/phases", method: .post)
                    let ran = try await r.waitForPhase(id: try XCTUnwrap(next["id"] as? Int))
                    XCTAssertEqual(ran["status"] as? String, "succeeded", "\(ran)")
                    try await waitUntil("the old learner stepped down") { learner.learner?.isLearner == false }
                    try await waitUntil("the new version serves everywhere") {
                        await [learner, replica, standby].asyncAllSatisfy { $0.engine.policy.id == "v2" }
                    }
                }
            }
        }
    }

    /// A learner whose turn ends in the middle of a phase (its database session ended) stops training at its next
    /// step and publishes nothing; the new learner has failed the phase, as after a crash.
    func testALearnerThatLosesItsTurnMidPhasePublishesNothing() async throws {
        let store = InMemoryProximaStore()
        let files = InMemorySharedVersionFiles()
        let election = InMemoryLearnerElection()
        let firstTurn = election.candidate()
        let first = try await InProcess.server(InProcess.settings(), store: store, files: Self.policies(),
                                               shared: InProcess.Sharing(files: files, notifications: store, heartbeats: store, election: firstTurn))
        let second = try await InProcess.server(InProcess.settings { $0.role = .learner }, store: store, files: Self.policies(),
                                                shared: InProcess.Sharing(files: files, notifications: store, heartbeats: store,
                                                                          election: election.candidate()))
        try await first.app.test(.router) { a in
            try await waitUntil("the first process is elected") { first.learner?.isLearner == true }
            try await second.app.test(.router) { _ in
                for k in 0..<4 {
                    let (pair, _) = try await a.chatPair(seed: k)
                    try await a.choose(pair, 0)
                }
                let started = try await a.json("/admin/phases", method: .post, body: #"{"steps": 100000}"#)
                let id = try XCTUnwrap(started["id"] as? Int)
                try await waitUntil("the phase trains") {
                    let phase = try await a.json("/admin/phases/\(id)")
                    return (phase["progress"] as? [String: Any])?["step"] as? Int ?? 0 >= 1
                }
                await firstTurn.resign()
                try await waitUntil("the first learner steps down") { first.learner?.isLearner == false }
                try await waitUntil("the second is elected") { second.learner?.isLearner == true }
                let phase = try await a.waitForPhase(id: id)
                XCTAssertEqual(phase["status"] as? String, "failed", "\(phase)")
                let versions = try await store.policyVersions()
                XCTAssertEqual(versions.map(\.id), ["v0"], "nothing was published")
            }
        }
    }

    /// A phase that another process runs cannot be cancelled here: 409 naming where it runs.
    func testAReplicaQueuesAndCancelsButCannotStopAnotherProcesssPhase() async throws {
        let store = InMemoryProximaStore()
        let replica = try await InProcess.server(InProcess.settings { $0.role = .replica }, store: store)
        try await replica.app.test(.router) { r in
            let (pair, _) = try await r.chatPair(seed: 1)
            try await r.choose(pair, 0)
            let queued = try await r.json("/admin/phases", method: .post)
            let id = try XCTUnwrap(queued["id"] as? Int)
            _ = try await store.startPhase(id: Int64(id), at: Date())   // as the learner elsewhere would
            let refused = try await r.execute(uri: "/admin/phases/\(id)/cancel", method: .post)
            XCTAssertEqual(refused.status, .conflict, String(buffer: refused.body))
            XCTAssertTrue(String(buffer: refused.body).contains("runs_elsewhere"))
            let another = try await r.json("/admin/phases", method: .post)
            let cancelled = try await r.json("/admin/phases/\(try XCTUnwrap(another["id"] as? Int))/cancel", method: .post)
            XCTAssertEqual(cancelled["status"] as? String, "cancelled")
        }
    }
}

private func waitUntil(_ what: String, timeout: Duration = .seconds(60), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("\(what): not within \(timeout)")
}

private extension Array where Element == ProximaServer {
    func asyncAllSatisfy(_ predicate: (ProximaServer) async -> Bool) async -> Bool {
        for element in self where await !predicate(element) { return false }
        return true
    }
}
