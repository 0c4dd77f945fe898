// ChatCompletionRouterTests: POST /v1/chat/completions through the router with the real model: OpenAI's
// response shape, the logged pair (shown and hidden sample), seeds, pairing off, SSE framing, log-probs.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import Service
import ProximaCore
import Store
import XCTest

final class ChatCompletionRouterTests: XCTestCase {
    // MARK: Non-streamed

    func testCompletionHasOpenAIShapeAndIsLoggedWithItsHiddenPairSample() async throws {
        let server = try await TestServer()
        let json = try await server.test { client in try await client.complete(#", "seed": 1"#) }
        let id = try XCTUnwrap(json["id"] as? String)
        XCTAssertTrue(id.hasPrefix("chatcmpl-"))
        XCTAssertEqual(json["object"] as? String, "chat.completion")
        XCTAssertEqual(json["model"] as? String, SharedModel.bundle.name)
        XCTAssertNotNil(json["created"] as? Int)
        let choices = try XCTUnwrap(json["choices"] as? [[String: Any]])
        XCTAssertEqual(choices.count, 1)
        let message = try XCTUnwrap(choices[0]["message"] as? [String: Any])
        XCTAssertEqual(message["role"] as? String, "assistant")
        let content = try XCTUnwrap(message["content"] as? String)
        XCTAssertTrue(["stop", "length"].contains(choices[0]["finish_reason"] as? String))
        let usage = try XCTUnwrap(json["usage"] as? [String: Int])
        XCTAssertEqual(usage["total_tokens"], usage["prompt_tokens"]! + usage["completion_tokens"]!)
        XCTAssertLessThanOrEqual(usage["completion_tokens"]!, 8)
        let proxima = try XCTUnwrap(json["proxima"] as? [String: Any])
        XCTAssertEqual(proxima["pair_id"] as? String, "pair-" + id.dropFirst("chatcmpl-".count))
        XCTAssertEqual(proxima["policy_version"] as? String, "v0")

        let logged = try await XCTUnwrapAsync(await server.store.loggedRequest(id: id))
        XCTAssertEqual(logged.request.pairID, proxima["pair_id"] as? String)
        XCTAssertEqual(logged.request.policyVersion, "v0")
        XCTAssertEqual(logged.request.n, 1)
        XCTAssertEqual(logged.request.sampling.seed, 1)
        XCTAssertEqual(logged.request.promptTokenIDs.count, usage["prompt_tokens"])
        XCTAssertEqual(logged.samples.map(\.shown), [true, false])
        XCTAssertEqual(logged.samples[0].text, content)
        XCTAssertEqual(logged.samples[0].tokenIDs.count, usage["completion_tokens"])
        for sample in logged.samples {
            XCTAssertEqual(sample.logprobs.count, sample.tokenIDs.count)
            XCTAssertTrue(sample.logprobs.allSatisfy { $0 <= 0 && $0.isFinite })
        }
    }

    func testRequestSeedDrawsSampleZeroWithItAndSampleOneWithTheNextSeed() async throws {
        let server = try await TestServer()
        let (both, next) = try await server.test { client in
            (try await client.complete(#", "seed": 41, "n": 2, "max_tokens": 12"#, content: "Name a colour."),
             try await client.complete(#", "seed": 42, "max_tokens": 12"#, content: "Name a colour."))
        }
        let pair = try XCTUnwrap(both["choices"] as? [[String: Any]]).map { ($0["message"] as? [String: Any])?["content"] as? String }
        XCTAssertEqual(pair.count, 2)
        let single = try XCTUnwrap(next["choices"] as? [[String: Any]]).first.flatMap { ($0["message"] as? [String: Any])?["content"] as? String }
        XCTAssertEqual(single, pair[1], "sample 1 of seed 41 is sample 0 of seed 42")
        let logged = try await XCTUnwrapAsync(await server.store.loggedRequest(id: both["id"] as! String))
        XCTAssertEqual(logged.samples.map(\.shown), [true, true])
    }

    func testPairingOffDrawsOneSampleWithoutPairID() async throws {
        let server = try await TestServer(chat: ChatConfiguration(pairing: false))
        let json = try await server.test { client in try await client.complete() }
        let proxima = try XCTUnwrap(json["proxima"] as? [String: Any])
        XCTAssertTrue(proxima["pair_id"] is NSNull)
        let logged = try await XCTUnwrapAsync(await server.store.loggedRequest(id: json["id"] as! String))
        XCTAssertNil(logged.request.pairID)
        XCTAssertEqual(logged.samples.count, 1)
    }

    func testGreedyRequestDrawsNoHiddenTwin() async throws {
        let server = try await TestServer()
        let json = try await server.test { client in try await client.complete(#", "temperature": 0"#) }
        XCTAssertTrue((json["proxima"] as? [String: Any])?["pair_id"] is NSNull, "a greedy twin would be identical")
        let logged = try await XCTUnwrapAsync(await server.store.loggedRequest(id: json["id"] as! String))
        XCTAssertEqual(logged.samples.count, 1)
    }

    /// With the real model: a stop string cuts the text, the reported log-probs, the usage and the logged sample
    /// before the token in which it begins.
    func testAStopStringCutsEverythingAtTheSamePlace() async throws {
        let server = try await TestServer()
        let json = try await server.test { client in
            try await client.complete(#", "logprobs": true, "temperature": 0, "max_tokens": 24, "stop": ["is P"]"#,
                                      content: "What is the capital of France?")
        }
        let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
        let text = try XCTUnwrap((choice["message"] as? [String: Any])?["content"] as? String)
        XCTAssertEqual(text, "The capital of France", "greedy says \"The capital of France is Paris.\"; \" is\" holds the stop's start")
        XCTAssertEqual(choice["finish_reason"] as? String, "stop")
        let reported = try XCTUnwrap((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
        XCTAssertEqual(reported.map { $0["token"] as? String ?? "" }.joined(), text)
        XCTAssertEqual((json["usage"] as? [String: Any])?["completion_tokens"] as? Int, reported.count)
        let logged = try await XCTUnwrapAsync(await server.store.loggedRequest(id: json["id"] as! String))
        XCTAssertEqual(logged.samples[0].tokenIDs.count, reported.count)
        XCTAssertEqual(logged.samples[0].logprobs.count, reported.count)
        XCTAssertEqual(logged.samples[0].text, text)
        XCTAssertEqual(SharedModel.bundle.tokenizer.decode(logged.samples[0].tokenIDs), text)
    }

    func testLogprobsReportEveryShownTokenWithAlternativesAsLogged() async throws {
        let server = try await TestServer()
        let json = try await server.test { client in
            try await client.complete(#", "logprobs": true, "top_logprobs": 3, "temperature": 0"#)
        }
        let choice = try XCTUnwrap((json["choices"] as? [[String: Any]])?.first)
        let content = try XCTUnwrap((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])
        let logged = try await XCTUnwrapAsync(await server.store.loggedRequest(id: json["id"] as! String))
        let sample = logged.samples[0]
        let shown = sample.finishReason == .stop ? sample.tokenIDs.count - 1 : sample.tokenIDs.count
        XCTAssertEqual(content.count, shown)
        for (i, entry) in content.enumerated() {
            XCTAssertEqual((entry["logprob"] as? Double).map(Float.init)!, sample.logprobs[i], accuracy: 1e-6)
            let top = try XCTUnwrap(entry["top_logprobs"] as? [[String: Any]])
            XCTAssertEqual(top.count, 3)
            XCTAssertEqual(entry["token"] as? String, top[0]["token"] as? String, "greedy picks the most likely token")
            XCTAssertNotNil(entry["bytes"] as? [Int])
        }
        XCTAssertEqual(content.compactMap { $0["token"] as? String }.joined(), (choice["message"] as? [String: Any])?["content"] as? String)
    }

    // MARK: Streamed

    func testStreamIsServerSentEventsEndingWithDoneAfterTheRequestWasLogged() async throws {
        let server = try await TestServer()
        let response = try await server.test { client in
            try await client.post("/v1/chat/completions", json: """
                {"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": [{"type": "text", "text": "Hi"}]}],
                 "max_tokens": 10, "stream": true, "stream_options": {"include_usage": true}, "seed": 3}
                """)
        }
        XCTAssertEqual(response.status, .ok)
        XCTAssertEqual(response.headers[.contentType], "text/event-stream")
        let events = try ServerSentEvents(response.body)
        XCTAssertTrue(events.done)
        let ids = Set(events.chunks.compactMap { $0["id"] as? String })
        XCTAssertEqual(ids.count, 1)
        for chunk in events.chunks {
            XCTAssertEqual(chunk["object"] as? String, "chat.completion.chunk")
            let proxima = try XCTUnwrap(chunk["proxima"] as? [String: Any])
            XCTAssertNotNil(proxima["pair_id"] as? String)
            XCTAssertEqual(proxima["policy_version"] as? String, "v0")
        }
        let choiceChunks = events.chunks.flatMap { ($0["choices"] as? [[String: Any]]) ?? [] }
        XCTAssertEqual((choiceChunks.first?["delta"] as? [String: Any])?["role"] as? String, "assistant")
        let text = choiceChunks.compactMap { ($0["delta"] as? [String: Any])?["content"] as? String }.joined()
        let finishes = choiceChunks.compactMap { $0["finish_reason"] as? String }
        XCTAssertEqual(finishes.count, 1)
        let last = try XCTUnwrap(events.chunks.last)
        XCTAssertEqual((last["choices"] as? [Any])?.count, 0)
        let usage = try XCTUnwrap(last["usage"] as? [String: Int])

        let logged = try await XCTUnwrapAsync(await server.store.loggedRequest(id: ids.first!))
        XCTAssertEqual(logged.samples[0].text, text)
        XCTAssertEqual(logged.samples[0].finishReason.rawValue, finishes[0])
        XCTAssertEqual(usage["completion_tokens"], logged.samples[0].tokenIDs.count)
        XCTAssertEqual(logged.request.messages.map(\.content), ["Be brief.", "Hi"])
        XCTAssertTrue(logged.request.stream)
    }
}

/// `XCTUnwrap` for a value computed by an async expression.
func XCTUnwrapAsync<T>(_ value: @autoclosure () async throws -> T?, file: StaticString = #filePath, line: UInt = #line) async throws -> T {
    let result = try await value()
    return try XCTUnwrap(result, file: file, line: line)
}
