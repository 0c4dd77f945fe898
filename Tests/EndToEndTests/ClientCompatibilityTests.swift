// ClientCompatibilityTests: a live `proxima serve` driven by the official openai Python client and by curl,
// unmodified: non-streamed and streamed chats, feedback, bearer keys from the environment, and settings
// precedence (flags over environment over the configuration file).

import Foundation
import ProximaCore
import Store
import TestSupport
import XCTest

final class ClientCompatibilityTests: XCTestCase {
    func testOpenAIPythonClientChatsWithAndWithoutStreaming() async throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase(),
                                    environment: ["PROXIMA_AUTH_USER_KEYS": "live-user-key"])
        let result = try XCTUnwrap(try PythonClient.run("openai_chat.py", ["\(server.baseURL)/v1", "live-user-key"]) as? [String: Any])

        let plain = try XCTUnwrap(result["plain"] as? [String: Any])
        XCTAssertTrue((plain["id"] as? String)?.hasPrefix("chatcmpl-") ?? false)
        XCTAssertEqual(plain["object"] as? String, "chat.completion")
        XCTAssertEqual(plain["role"] as? String, "assistant")
        XCTAssertFalse((plain["content"] as? String ?? "").isEmpty)
        XCTAssertTrue(["stop", "length"].contains(plain["finish_reason"] as? String))
        let usage = try XCTUnwrap(plain["usage"] as? [String: Any])
        XCTAssertGreaterThan(usage["prompt_tokens"] as? Int ?? 0, 0)
        XCTAssertGreaterThan(plain["logprob_tokens"] as? Int ?? 0, 0)
        let proxima = try XCTUnwrap(plain["proxima"] as? [String: Any])
        XCTAssertEqual(proxima["policy_version"] as? String, "v0")
        XCTAssertNotNil(proxima["pair_id"] as? String)

        let streamed = try XCTUnwrap(result["stream"] as? [String: Any])
        XCTAssertEqual((streamed["ids"] as? [String])?.count, 1)
        XCTAssertTrue(["stop", "length"].contains(streamed["finish_reason"] as? String))
        XCTAssertGreaterThan(streamed["chunks"] as? Int ?? 0, 2)
        let streamUsage = try XCTUnwrap(streamed["usage"] as? [String: Any])
        XCTAssertGreaterThan(streamUsage["completion_tokens"] as? Int ?? 0, 0)
        // The served model, its no-learn alias and the one version that can be pinned, through the OpenAI client.
        let models = try XCTUnwrap(result["models"] as? [String])
        XCTAssertEqual(models.count, 3, "\(models)")
        XCTAssertEqual(Set(models.dropFirst()), [models[0] + ":no-learn", models[0] + "@v0"])

        // The key is required: without it, 401 in OpenAI's shape.
        let refused = try Curl.postJSON("\(server.baseURL)/v1/chat/completions", #"{"messages": [{"role": "user", "content": "hi"}]}"#)
        XCTAssertEqual(refused.status, 401)
        XCTAssertEqual((try refused.json()["error"] as? [String: Any])?["type"] as? String, "authentication_error")
        XCTAssertEqual(server.stop(SIGTERM), 0)

        // Both chats were logged with their hidden second sample.
        let store = SQLiteProximaStore(database: try AppDatabase.open(path: server.database))
        let logged = try await store.loggedRequest(id: plain["id"] as! String)
        XCTAssertEqual(logged?.samples.count, 2)
        XCTAssertEqual(logged?.samples.first?.text, plain["content"] as? String)
        XCTAssertEqual(logged?.request.apiKeyID, "user-1")
        let loggedStream = try await store.loggedRequest(id: (streamed["ids"] as! [String])[0])
        XCTAssertEqual(loggedStream?.samples.first?.text, streamed["content"] as? String)
    }

    func testCurlChatsStreamsAndSendsFeedback() async throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase())
        let url = "\(server.baseURL)/v1/chat/completions"
        let chat = try Curl.postJSON(url, #"{"model": "any", "messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 10, "n": 2}"#)
        XCTAssertEqual(chat.status, 200, chat.text)
        let json = try chat.json()
        let id = try XCTUnwrap(json["id"] as? String)
        let pairID = try XCTUnwrap((json["proxima"] as? [String: Any])?["pair_id"] as? String)

        let stream = try Curl.run(["-N", "-X", "POST", url, "-H", "Content-Type: application/json", "--data-binary", "@-"],
                                  input: Data(#"{"messages": [{"role": "user", "content": "Hello!"}], "max_tokens": 10, "stream": true}"#.utf8))
        XCTAssertEqual(stream.status, 200)
        XCTAssertEqual(stream.headers["content-type"], "text/event-stream")
        let events = stream.text.components(separatedBy: "\n\n").filter { !$0.isEmpty }
        XCTAssertTrue(events.allSatisfy { $0.hasPrefix("data: ") })
        XCTAssertEqual(events.last, "data: [DONE]")
        XCTAssertGreaterThanOrEqual(events.count, 3)

        let feedback = "\(server.baseURL)/v1/feedback"
        let thumb = try Curl.postJSON(feedback, #"{"response_id": "\#(id)", "rating": "up", "event_id": "curl-1"}"#)
        XCTAssertEqual(thumb.status, 200, thumb.text)
        XCTAssertEqual(try Curl.postJSON(feedback, #"{"response_id": "\#(id)", "rating": "up", "event_id": "curl-1"}"#).status, 200)
        XCTAssertEqual(try Curl.postJSON(feedback, #"{"response_id": "\#(id)", "rating": "down", "event_id": "curl-1"}"#).status, 409)
        XCTAssertEqual(try Curl.postJSON(feedback, #"{"pair_id": "\#(pairID)", "choice": "tie"}"#).status, 200)
        XCTAssertEqual(try Curl.postJSON(feedback, #"{"pair_id": "pair-unknown", "choice": 0}"#).status, 404)
        XCTAssertEqual(server.stop(SIGINT), 0)

        let store = SQLiteProximaStore(database: try AppDatabase.open(path: server.database))
        let events2 = try await store.feedback(requestID: id)
        XCTAssertEqual(events2.map(\.eventID).first, "curl-1")
        XCTAssertEqual(events2.count, 2)
    }

    func testFlagsBeatEnvironmentWhichBeatsTheConfigurationFile() async throws {
        let database = try LiveServer.temporaryDatabase()
        let config = URL(fileURLWithPath: database).deletingLastPathComponent().appendingPathComponent("proxima.yaml")
        let filePort = try LiveServer.freePort()
        try """
            port: \(filePort)
            chat:
              pairing: false
              max_tokens_limit: 5
            """.write(to: config, atomically: true, encoding: .utf8)
        let server = try LiveServer(database: database, arguments: ["--config", config.path],
                                    environment: ["PROXIMA_CHAT_MAX_TOKENS_LIMIT": "7"])
        XCTAssertNotEqual(server.port, filePort, "the --port flag wins over the file")
        let url = "\(server.baseURL)/v1/chat/completions"
        let ok = try Curl.postJSON(url, #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 7}"#)
        XCTAssertEqual(ok.status, 200, "the environment's limit (7) wins over the file's (5): \(ok.text)")
        XCTAssertTrue((try ok.json()["proxima"] as? [String: Any])?["pair_id"] is NSNull, "pairing off from the file")
        XCTAssertEqual(try Curl.postJSON(url, #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 8}"#).status, 400)
        XCTAssertEqual(server.stop(SIGTERM), 0)
    }

    func testWithoutKeysANonLoopbackHostIsRefused() throws {
        let process = Process()
        process.executableURL = TestPaths.root.appendingPathComponent(".build/release/proxima")
        process.arguments = ["serve", "--host", "0.0.0.0", "--port", String(try LiveServer.freePort()),
                             "--db", try LiveServer.temporaryDatabase(), "--model", try TestPaths.defaultModel()]
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PROXIMA_") }
        let errors = Pipe()
        process.standardError = errors
        try process.run()
        let message = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 1)
        XCTAssertTrue(message.contains("refusing to bind 0.0.0.0 with no API keys"), message)
    }
}
