// ConcurrencyAndShutdownTests: 16 concurrent clients all get complete responses, each logged as served; the
// batch-size metric shows requests batched together and later prompts reuse cached prefixes; SIGTERM lets an
// in-flight request finish, then the process exits 0.

import Foundation
import ProximaCore
import Store
import TestSupport
import XCTest

final class ConcurrencyAndShutdownTests: XCTestCase {
    func testSixteenConcurrentClientsAreBatchedAndAllServedCompletely() async throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase())
        let clients = 16
        let results = try XCTUnwrap(try PythonClient.run("concurrent_clients.py", ["\(server.baseURL)/v1", "\(clients)", "24"]) as? [[String: Any]])
        XCTAssertEqual(results.count, clients)
        XCTAssertEqual(Set(results.compactMap { $0["id"] as? String }).count, clients)
        for result in results {
            XCTAssertTrue(["stop", "length"].contains(result["finish_reason"] as? String), "\(result)")
            XCTAssertGreaterThan(result["completion_tokens"] as? Int ?? 0, 0)
            XCTAssertNotNil(result["pair_id"] as? String)
        }
        // Every response is what was logged as sample 0, complete (finished, not cancelled).
        let metrics = try server.metrics()
        XCTAssertEqual(server.stop(SIGTERM), 0)
        let store = SQLiteProximaStore(database: try AppDatabase.open(path: server.database))
        for result in results {
            let logged = try await XCTUnwrapAsync(await store.loggedRequest(id: result["id"] as! String))
            XCTAssertEqual(logged.samples[0].text, result["content"] as? String)
            XCTAssertEqual(logged.samples[0].finishReason.rawValue, result["finish_reason"] as? String)
            XCTAssertEqual(logged.samples[0].tokenIDs.count, result["completion_tokens"] as? Int)
            XCTAssertEqual(logged.samples.count, 2)
            XCTAssertNotEqual(logged.samples[1].finishReason, .cancelled)
        }
        // A pair alone is a batch of 2 sequences; steps with more than 2 had several requests together.
        let steps = try XCTUnwrap(metrics["proxima_batch_size_count"])
        let atMostTwo = try XCTUnwrap(metrics["proxima_batch_size_bucket{le=\"2.0\"}"])
        XCTAssertGreaterThan(steps - atMostTwo, 0, "no step batched more than one request")
        XCTAssertGreaterThan(steps - (metrics["proxima_batch_size_bucket{le=\"8.0\"}"] ?? steps), 0, "no step had more than 8 sequences")
        XCTAssertEqual(metrics["proxima_requests_total{route=\"/v1/chat/completions\",status=\"200\"}"], Double(clients))
        // Requests admitted after others' prefills start from the template's cached system turn.
        XCTAssertGreaterThan(metrics["proxima_prompt_cached_tokens_total"] ?? 0, 0)
    }

    func testSIGTERMFinishesTheRequestInFlightThenExitsZero() async throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase())
        let inflight = Process()
        inflight.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        inflight.arguments = ["-s", "-X", "POST", "\(server.baseURL)/v1/chat/completions", "-H", "Content-Type: application/json",
                              "-d", #"{"messages": [{"role": "user", "content": "Tell me a long story."}], "max_tokens": 120, "temperature": 0}"#]
        let output = Pipe()
        inflight.standardOutput = output
        try inflight.run()
        let deadline = Date().addingTimeInterval(30)
        while (try server.metrics()["proxima_active_sequences"] ?? 0) == 0 && Date() < deadline { try await Task.sleep(for: .milliseconds(20)) }
        XCTAssertGreaterThan(try server.metrics()["proxima_active_sequences"] ?? 0, 0, "the request never started")

        let status = server.stop(SIGTERM)
        let body = output.fileHandleForReading.readDataToEndOfFile()
        inflight.waitUntilExit()
        XCTAssertEqual(status, 0, server.log)
        XCTAssertEqual(inflight.terminationStatus, 0)
        let json = try XCTUnwrap(try JSONSerialization.jsonObject(with: body) as? [String: Any], String(decoding: body, as: UTF8.self))
        let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
        XCTAssertTrue(["stop", "length"].contains(choice["finish_reason"] as? String))
        let store = SQLiteProximaStore(database: try AppDatabase.open(path: server.database))
        let logged = try await store.loggedRequest(id: json["id"] as! String)
        XCTAssertNotNil(logged, "the finished request was logged")
        XCTAssertTrue(server.log.contains("proxima stopped"))
    }
}

/// `XCTUnwrap` for a value computed by an async expression.
func XCTUnwrapAsync<T>(_ value: @autoclosure () async throws -> T?, _ message: String = "",
                        file: StaticString = #filePath, line: UInt = #line) async throws -> T {
    let result = try await value()
    return try XCTUnwrap(result, message, file: file, line: line)
}
