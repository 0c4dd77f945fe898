// LiveBadInputTests: bad requests over a real socket get their 4xx with an OpenAI-shaped error and change
// nothing; a client that disconnects mid-stream frees its slot (active sequences and queue back to zero),
// is not logged, and the server keeps serving.

import Foundation
import ProximaCore
import Store
import TestSupport
import XCTest

final class LiveBadInputTests: XCTestCase {
    func testBadRequestsGetOpenAIErrorsAndTheServerKeepsServing() async throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase(),
                                    environment: ["PROXIMA_HTTP_BODY_LIMIT_BYTES": "65536"])
        let url = "\(server.baseURL)/v1/chat/completions"
        func assertError(_ response: Curl.Response, _ status: Int, code: String? = nil, line: UInt = #line) throws {
            XCTAssertEqual(response.status, status, response.text, line: line)
            let error = try XCTUnwrap(try response.json()["error"] as? [String: Any], line: line)
            XCTAssertNotNil(error["message"] as? String, line: line)
            XCTAssertNotNil(error["type"] as? String, line: line)
            if let code { XCTAssertEqual(error["code"] as? String, code, line: line) }
        }
        try assertError(try Curl.postJSON(url, #"{"messages": [{"role": "user""#), 400, code: "invalid_json")
        try assertError(try Curl.run(["-X", "POST", url, "-H", "Content-Type: text/plain", "--data-binary", "@-"], input: Data("hi".utf8)),
                        415, code: "unsupported_media_type")
        let big = #"{"messages": [{"role": "user", "content": "\#(String(repeating: "a", count: 100_000))"}]}"#
        try assertError(try Curl.postJSON(url, big), 413, code: "request_too_large")
        var invalid = Data(#"{"messages": [{"role": "user", "content": ""#.utf8)
        invalid.append(contentsOf: [0xFF, 0xFE, 0xC0])
        invalid.append(Data(#""}]}"#.utf8))
        try assertError(try Curl.run(["-X", "POST", url, "-H", "Content-Type: application/json", "--data-binary", "@-"], input: invalid),
                        400, code: "invalid_utf8")
        try assertError(try Curl.postJSON(url, #"{"messages": [{"role": "robot", "content": "x"}]}"#), 400)
        try assertError(try Curl.postJSON(url, #"{"messages": [{"role": "user", "content": "x"}], "max_tokens": 0}"#), 400)
        try assertError(try Curl.postJSON(url, #"{"messages": [{"role": "user", "content": "x"}], "n": 5}"#), 400)
        try assertError(try Curl.run(["\(server.baseURL)/v2/nothing"]), 404, code: "not_found")
        try assertError(try Curl.run([url]), 405, code: "method_not_allowed")
        XCTAssertEqual(try Curl.postJSON(url, #"{"messages": [{"role": "user", "content": "still there?"}], "max_tokens": 4}"#).status, 200)
        XCTAssertEqual(server.stop(SIGTERM), 0)
        let store = SQLiteProximaStore(database: try AppDatabase.open(path: server.database))
        let pairs = try await store.unlabelledPairs(limit: 100)
        XCTAssertEqual(pairs.count, 1, "only the good request was logged")
    }

    func testClientDisconnectingMidStreamFreesTheSlotAndIsNotLogged() async throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase())
        // curl gives up after a moment, in the middle of a long stream.
        let partial = try Curl.run(["-N", "--max-time", "1.5", "-X", "POST", "\(server.baseURL)/v1/chat/completions",
                                    "-H", "Content-Type: application/json", "--data-binary", "@-"],
                                   input: Data(#"{"messages": [{"role": "user", "content": "Write a long essay."}], "max_tokens": 2000, "temperature": 0.8, "seed": 5, "stream": true}"#.utf8))
        XCTAssertEqual(partial.exitCode, 28, "curl timed out mid-stream")
        XCTAssertFalse(partial.text.contains("[DONE]"))
        let firstEvent = try XCTUnwrap(partial.text.components(separatedBy: "\n\n").first)
        let firstChunk = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(firstEvent.dropFirst(6).utf8)) as? [String: Any])
        let id = try XCTUnwrap(firstChunk["id"] as? String)

        let deadline = Date().addingTimeInterval(10)
        var metrics = try server.metrics()
        while (metrics["proxima_active_sequences"] ?? 1) > 0 && Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            metrics = try server.metrics()
        }
        XCTAssertEqual(metrics["proxima_active_sequences"], 0, "the cancelled sequences still hold their slots")
        XCTAssertEqual(metrics["proxima_queue_depth"], 0)
        let after = try Curl.postJSON("\(server.baseURL)/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}"#)
        XCTAssertEqual(after.status, 200)
        XCTAssertEqual(server.stop(SIGTERM), 0)
        let store = SQLiteProximaStore(database: try AppDatabase.open(path: server.database))
        let logged = try await store.loggedRequest(id: id)
        XCTAssertNil(logged, "a response the client never received in full is not logged")
    }
}
