// LearnerLiveTests: the learner against a spawned server: operator phases publish versions that are swapped
// in under chat load without a failed request (every response and every chunk names one version); SIGKILL
// during a phase loses nothing and leaves no half-written version; and the behavior log-probs the server
// records under a learned version equal the learner's forward pass on that version (invariant 1).

import Foundation
import Learning
import Llama
import Inference
import ModelFiles
import ProximaNumerics
import ProximaCore
import Store
import TestSupport
import XCTest

final class LearnerLiveTests: XCTestCase {
    /// A server whose learner runs only when asked, promotes every candidate, and gates on a few short replies.
    private func server(_ database: String) throws -> LiveServer {
        try LiveServer(database: database, environment: [
            "PROXIMA_LEARNER_AUTOMATIC": "false", "PROXIMA_LEARNER_GATE_THRESHOLD": "0",
            "PROXIMA_LEARNER_GATE_PROMPT_COUNT": "4", "PROXIMA_LEARNER_GATE_MAX_TOKENS": "12", "PROXIMA_LEARNER_KEEP_VERSIONS": "0",
        ])
    }

    /// `count` pairs with two visible choices, each labelled "the first is better".
    private func labelledPairs(_ server: LiveServer, count: Int, from first: Int = 0) throws -> [String] {
        var pairs: [String] = []
        for k in first..<(first + count) {
            let chat = try Curl.postJSON("\(server.baseURL)/v1/chat/completions",
                                         #"{"messages": [{"role": "user", "content": "Tell me one fact about number \#(k)."}], "n": 2, "max_tokens": 14, "seed": \#(k)}"#)
            XCTAssertEqual(chat.status, 200, chat.text)
            let pair = try XCTUnwrap((try chat.json()["proxima"] as? [String: Any])?["pair_id"] as? String)
            let feedback = try Curl.postJSON("\(server.baseURL)/v1/feedback", #"{"pair_id": "\#(pair)", "choice": 0}"#)
            XCTAssertEqual(feedback.status, 200, feedback.text)
            pairs.append(pair)
        }
        return pairs
    }

    /// Starts a small phase and waits until it ends; returns the phase JSON.
    private func runPhase(_ server: LiveServer, steps: Int = 2, timeout: TimeInterval = 300) throws -> [String: Any] {
        let body = #"{"steps": \#(steps), "ensemble": 2, "rank": 2, "targets": ["q", "v", "down"], "batch_size": 8, "learning_rate": 0.002}"#
        let start = try Curl.postJSON("\(server.baseURL)/admin/phases", body)
        XCTAssertEqual(start.status, 202, start.text)
        let id = try XCTUnwrap(try start.json()["id"] as? Int)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let phase = try Curl.run(["\(server.baseURL)/admin/phases/\(id)"]).json()
            if let status = phase["status"] as? String, ["succeeded", "rejected", "failed"].contains(status) { return phase }
            Thread.sleep(forTimeInterval: 0.5)
        }
        throw LiveTestError("phase \(id) did not finish within \(timeout) s")
    }

    private func serving(_ server: LiveServer) throws -> String {
        let list = try XCTUnwrap(try Curl.run(["\(server.baseURL)/admin/policies"]).json()["data"] as? [[String: Any]])
        return try XCTUnwrap(list.first { $0["status"] as? String == "serving" }?["id"] as? String)
    }

    func testSwapsUnderLoadFailNoRequest() throws {
        let server = try server(try LiveServer.temporaryDatabase())
        for (round, expected) in ["v1", "v2"].enumerated() {
            _ = try labelledPairs(server, count: 6, from: 6 * round)  // a phase takes the pairs no phase has used yet
            let phase = try runPhase(server)
            XCTAssertEqual(phase["status"] as? String, "succeeded", "\(phase)")
            XCTAssertEqual(phase["result_version"] as? String, expected)
            XCTAssertEqual(try serving(server), expected)
        }

        // 8 clients stream chats while the versions are activated 20 times in turn.
        let stop = DispatchSemaphore(value: 0)
        let results = ClientResults()
        let clients = DispatchGroup()
        let baseURL = server.baseURL
        for c in 0..<8 {
            DispatchQueue.global().async(group: clients) {
                var k = 0
                while stop.wait(timeout: .now()) == .timedOut {
                    let r = try? Curl.postJSON("\(baseURL)/v1/chat/completions",
                                               #"{"messages": [{"role": "user", "content": "Say something about \#(c)-\#(k)."}], "max_tokens": 20, "stream": true}"#)
                    results.add(r)
                    k += 1
                }
                stop.signal()
            }
        }
        for i in 0..<20 {
            let version = ["v0", "v1", "v2"][i % 3]
            let activated = try Curl.run(["-X", "POST", "\(server.baseURL)/admin/policies/\(version)/activate"])
            XCTAssertEqual(activated.status, 200, activated.text)
            Thread.sleep(forTimeInterval: 0.4)
        }
        stop.signal()
        clients.wait()
        XCTAssertGreaterThan(results.responses.count, 8)
        XCTAssertEqual(results.failures, [], "failed requests during swaps")
        XCTAssertTrue(results.versions.isSubset(of: ["v0", "v1", "v2"]), "\(results.versions)")
        XCTAssertGreaterThan(results.versions.count, 1, "responses came from several versions")
    }

    func testSIGKILLDuringAPhaseLosesNothing() async throws {
        let database = try LiveServer.temporaryDatabase()
        var server = try self.server(database)
        let pairs = try labelledPairs(server, count: 8)
        let before = try serving(server)
        let start = try Curl.postJSON("\(server.baseURL)/admin/phases", #"{"steps": 500, "ensemble": 2, "rank": 2, "batch_size": 8}"#)
        XCTAssertEqual(start.status, 202, start.text)
        let id = try XCTUnwrap(try start.json()["id"] as? Int)
        let deadline = Date().addingTimeInterval(120)
        var step = 0
        while step < 2 && Date() < deadline {
            let phase = try Curl.run(["\(server.baseURL)/admin/phases/\(id)"]).json()
            step = ((phase["progress"] as? [String: Any])?["step"] as? Int) ?? 0
            try await Task.sleep(for: .milliseconds(300))
        }
        XCTAssertGreaterThanOrEqual(step, 2, "the phase did not get going")
        server.stop(SIGKILL)

        server = try self.server(database)
        let phase = try Curl.run(["\(server.baseURL)/admin/phases/\(id)"]).json()
        XCTAssertEqual(phase["status"] as? String, "failed")
        XCTAssertEqual(try serving(server), before)
        let policies = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("policies")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: policies.path), [], "no version was published")
        let exported = try Curl.run(["\(server.baseURL)/admin/pairs/export"]).text.split(separator: "\n")
        XCTAssertEqual(exported.count, pairs.count, "every labelled pair survived")
        XCTAssertEqual(server.stop(SIGTERM), 0)
    }

    /// `proxima policies list|activate --db` works offline: it shows each version's files checked, refuses to
    /// serve a damaged version, and rolls back; the next start serves what it chose.
    func testPoliciesCommandChecksFilesAndActivatesOffline() throws {
        let database = try LiveServer.temporaryDatabase()
        var server = try self.server(database)
        _ = try labelledPairs(server, count: 4)
        XCTAssertEqual(try runPhase(server)["result_version"] as? String, "v1")
        XCTAssertEqual(server.stop(SIGTERM), 0)

        func proxima(_ arguments: [String]) throws -> (status: Int32, output: String) {
            let process = Process()
            process.executableURL = LiveServer.builtBinary
            process.arguments = arguments
            let pipe = Pipe()
            process.standardOutput = pipe
            process.standardError = pipe
            try process.run()
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            return (process.terminationStatus, output)
        }
        var list = try proxima(["policies", "list", "--db", database])
        XCTAssertEqual(list.status, 0, list.output)
        XCTAssertTrue(list.output.contains("v1  serving") && list.output.contains("intact"), list.output)

        // Damage v1's state file: the list says so and v1 cannot be chosen; v0 can.
        let policies = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("policies")
        let directory = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: policies.path).first)
        try Data([0, 1, 2]).write(to: policies.appendingPathComponent(directory).appendingPathComponent("ensemble.state.zlib"))
        list = try proxima(["policies", "list", "--db", database])
        XCTAssertTrue(list.output.contains("corrupt"), list.output)
        let refused = try proxima(["policies", "activate", "v1", "--db", database])
        XCTAssertNotEqual(refused.status, 0, refused.output)
        XCTAssertTrue(refused.output.contains("v1 cannot serve"), refused.output)
        let rollback = try proxima(["policies", "activate", "v0", "--db", database])
        XCTAssertEqual(rollback.status, 0, rollback.output)
        XCTAssertTrue(rollback.output.contains("v0 serves (v1 retired)"), rollback.output)

        server = try self.server(database)
        XCTAssertEqual(try serving(server), "v0")
        XCTAssertEqual(server.stop(SIGTERM), 0)
    }

    func testRecordedLogprobsEqualTheLearnersForwardOnAVersion() async throws {
        let database = try LiveServer.temporaryDatabase()
        let server = try self.server(database)
        _ = try labelledPairs(server, count: 8)
        let phase = try runPhase(server)
        let version = try XCTUnwrap(phase["result_version"] as? String)
        let chat = try Curl.postJSON("\(server.baseURL)/v1/chat/completions",
                                     #"{"messages": [{"role": "user", "content": "Describe the sea."}], "max_tokens": 24, "temperature": 1.0, "seed": 7}"#)
        let json = try chat.json()
        XCTAssertEqual((json["proxima"] as? [String: Any])?["policy_version"] as? String, version)
        let id = try XCTUnwrap(json["id"] as? String)
        XCTAssertEqual(server.stop(SIGTERM), 0)

        let appDatabase = try AppDatabase.open(path: database)
        defer { try? appDatabase.close() }
        let store = SQLiteProximaStore(database: appDatabase)
        let logged = try await XCTUnwrapAsync(await store.loggedRequest(id: id), "request not logged")
        let record = try await XCTUnwrapAsync(await store.policyVersion(id: version), "no version")
        let statePath = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("policies").appendingPathComponent(record.state!.path).path
        let ensemble = try EnsembleStateFile.decode([UInt8](try Data(contentsOf: URL(fileURLWithPath: statePath))), path: statePath)

        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let model = try ModelBundle(path: try TestPaths.defaultModel(), pool: pool)
        var worst: Float = 0
        for sample in logged.samples {
            // The learner's forward: the training pass with the version's merged adapter, as a one-pair batch.
            let batch = TrainingBatch(pairs: [PreferencePair(prompt: logged.request.promptTokenIDs, chosen: sample.tokenIDs, rejected: sample.tokenIDs)])
            let merged = ensemble.merged()
            let acts = TrainingActivations(config: model.weights.config, adapterRank: merged.rank, targets: merged.targets,
                                           maxRows: batch.rowCount, maxLogitRows: batch.logitRowCount)
            let recomputed = model.weights.trainingForward(batch, adapter: merged, activations: acts, pool: pool)[0]
            let recorded = sample.logprobs.reduce(0, +)
            XCTAssertEqual(Float(recomputed.chosen), recorded, accuracy: 1e-3 * Float(sample.tokenIDs.count), "sequence log-prob")
            worst = max(worst, abs(Float(recomputed.chosen) - recorded) / Float(sample.tokenIDs.count))
        }
        print("invariant 1 on served version \(version): mean |recorded − recomputed| per token ≤ \(worst)")
    }
}

/// What the load clients saw.
final class ClientResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var responses: [String] = []
    private(set) var failures: [String] = []
    private(set) var versions = Set<String>()

    func add(_ response: Curl.Response?) {
        lock.lock(); defer { lock.unlock() }
        guard let response, response.status == 200, response.text.contains("data: [DONE]") else {
            failures.append(response.map { "\($0.status): \($0.text.prefix(200))" } ?? "curl failed")
            return
        }
        // Every chunk of one response must name the same version.
        let chunkVersions = Set(response.text.split(separator: "\n").compactMap { line -> String? in
            guard line.hasPrefix("data: {"), let data = line.dropFirst(6).data(using: .utf8),
                  let chunk = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else { return nil }
            return (chunk["proxima"] as? [String: Any])?["policy_version"] as? String
        })
        if chunkVersions.count != 1 { failures.append("chunks named \(chunkVersions)") }
        versions.formUnion(chunkVersions)
        responses.append(response.text)
    }
}
