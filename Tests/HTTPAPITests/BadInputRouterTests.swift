// BadInputRouterTests: every malformed or out-of-range request gets its status and an OpenAI-shaped error,
// nothing is logged, and the server keeps serving; queue full is 429, shutting down 503, routes 404/405.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Service
import ProximaCore
import Store
import XCTest

final class BadInputRouterTests: XCTestCase {
    private static let chat = "/v1/chat/completions"

    func testMalformedBodiesGet400NamingTheProblem() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "hi"}"#)
                .assertError(.badRequest, code: "invalid_json")
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": "hello"}"#).assertError(.badRequest, param: "messages", code: "invalid_type")
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "hi"}], "temperature": "hot"}"#)
                .assertError(.badRequest, param: "temperature", code: "invalid_type")
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "hi"}], "n": "2"}"#)
                .assertError(.badRequest, param: "n", code: "invalid_type")
            // Integers are strict: a fraction or a number out of range names the field.
            for (field, value) in [("max_tokens", "5.5"), ("seed", "1.5"), ("seed", "18446744073709551616"), ("top_k", "1e30"),
                                   ("max_completion_tokens", "9223372036854775808")] {
                try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "hi"}], "\#(field)": \#(value)}"#)
                    .assertError(.badRequest, param: field, code: "invalid_type")
            }
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": 7, "content": "hi"}]}"#)
                .assertError(.badRequest, param: "messages[0].role")
            try await client.post(BadInputRouterTests.chat, json: #"{"model": "x"}"#).assertError(.badRequest, param: "messages", code: "missing_field")
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": []}"#).assertError(.badRequest, param: "messages")
            let image = try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": [{"type": "image_url"}]}]}"#)
            try image.assertError(.badRequest, param: "messages[0].content", code: "invalid_value")
            XCTAssertTrue(String(buffer: image.body).contains("only text content parts"), String(buffer: image.body))
            try await client.post(BadInputRouterTests.chat, json: "[1, 2]").assertError(.badRequest)
            // Invalid UTF-8 inside a JSON string.
            var bytes = ByteBuffer(string: #"{"messages": [{"role": "user", "content": ""#)
            bytes.writeBytes([0xC3, 0x28, 0xFF])
            bytes.writeString(#""}]}"#)
            try await client.execute(uri: BadInputRouterTests.chat, method: .post, headers: [.contentType: "application/json"], body: bytes)
                .assertError(.badRequest, code: "invalid_utf8")
        }
        let logged = try await server.store.unlabelledPairs(limit: 10)
        XCTAssertEqual(logged.count, 0)
    }

    func testAnySixtyFourBitValueIsASeed() async throws {
        let server = try await TestServer()
        try await server.test { client in
            for seed in ["18446744073709551615", "9223372036854775808", "-1"] {
                _ = try await client.complete(#", "seed": \#(seed)"#)
            }
        }
    }

    func testRolesAndParameterRangesAreChecked() async throws {
        let server = try await TestServer(chat: ChatConfiguration(maxTokensLimit: 100))
        let user = #"[{"role": "user", "content": "hi"}]"#
        try await server.test { client in
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "tool", "content": "x"}]}"#)
                .assertError(.badRequest, param: "messages[0].role")
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "a"}, {"role": "wizard", "content": "x"}]}"#)
                .assertError(.badRequest, param: "messages[1].role")
            for (field, param) in [(#""n": 3"#, "n"), (#""n": 0"#, "n"), (#""max_tokens": 0"#, "max_tokens"),
                                   (#""max_tokens": -5"#, "max_tokens"), (#""max_tokens": 101"#, "max_tokens"),
                                   (#""max_completion_tokens": 1000000"#, "max_tokens"), (#""temperature": -1"#, "temperature"),
                                   (#""top_p": 0"#, "top_p"), (#""top_k": -1"#, "top_k"), (#""min_p": 2"#, "min_p"),
                                   (#""stop": ["a", "b", "c", "d", "e"]"#, "stop"),
                                   (#""logprobs": true, "top_logprobs": 21"#, "top_logprobs"),
                                   (#""top_logprobs": 2"#, "top_logprobs")] {
                try await client.post(BadInputRouterTests.chat, json: "{\"messages\": \(user), \(field)}").assertError(.badRequest, param: param)
            }
            // `developer` is accepted as system; the server still serves after all the refusals.
            _ = try await client.complete(#", "max_tokens": 2"#)
            _ = try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "developer", "content": "Be brief."}, {"role": "user", "content": "hi"}], "max_tokens": 2}"#)
        }
    }

    func testPromptsOverTheContextGet400WithTheCounts() async throws {
        let server = try await TestServer(chat: ChatConfiguration(maxTokensLimit: 1_000_000))
        let context = SharedModel.bundle.weights.config.contextLength
        let long = String(repeating: "hello ", count: context + 100)
        try await server.test { client in
            let tooLong = try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "\#(long)"}]}"#)
            try tooLong.assertError(.badRequest, param: "messages", code: "context_length_exceeded")
            let message = try XCTUnwrap((try tooLong.jsonObject()["error"] as? [String: Any])?["message"] as? String)
            XCTAssertTrue(message.contains("\(context)"), message)
            let overflow = try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "hi"}], "max_tokens": \#(context)}"#)
            try overflow.assertError(.badRequest, code: "context_length_exceeded")
        }
    }

    func testContentTypeSizeRoutesAndMethods() async throws {
        var http = HTTPSettings()
        http.bodyLimitBytes = 4096
        let server = try await TestServer(http: http)
        try await server.test { client in
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": []}"#, headers: [.contentType: "text/plain"])
                .assertError(.unsupportedMediaType, code: "unsupported_media_type")
            let big = String(repeating: "x", count: 5000)
            try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "\#(big)"}]}"#)
                .assertError(.contentTooLarge, code: "request_too_large")
            try await client.get("/v1/nothing").assertError(.notFound, code: "not_found")
            let wrongMethod = try await client.get(BadInputRouterTests.chat)
            try wrongMethod.assertError(.methodNotAllowed, code: "method_not_allowed")
            XCTAssertEqual(wrongMethod.headers[.allow], "POST")
            try await client.execute(uri: "/health", method: .delete).assertError(.methodNotAllowed)
            _ = try await client.complete(#", "max_tokens": 2"#)
        }
    }

    func testFullQueueIs429WithRetryAfter() async throws {
        var engine = EngineConfiguration()
        engine.maxQueuedRequests = 0
        let server = try await TestServer(engine: engine, runEngine: false)
        try await server.test { client in
            let response = try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "hi"}]}"#)
            try response.assertError(.tooManyRequests, type: "server_overloaded", code: "rate_limit_exceeded")
            XCTAssertEqual(response.headers[.retryAfter], "1")
        }
    }

    func testShuttingDownIs503WithRetryAfter() async throws {
        let server = try await TestServer(runEngine: false)
        let engine = server.engine
        let running = Task { try await engine.run() }
        running.cancel()
        try await running.value
        try await server.test { client in
            let response = try await client.post(BadInputRouterTests.chat, json: #"{"messages": [{"role": "user", "content": "hi"}]}"#)
            try response.assertError(.serviceUnavailable, type: "server_error", code: "unavailable")
            XCTAssertNotNil(response.headers[.retryAfter])
        }
    }
}
