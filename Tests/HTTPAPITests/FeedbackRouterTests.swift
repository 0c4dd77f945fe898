// FeedbackRouterTests: POST /v1/feedback through the router: thumbs and choices are stored, a retry with the
// same event id is 200 again and stored once, the same id with other content is 409, unknown ids are 404.

import Foundation
import HTTPAPI
import Hummingbird
import HummingbirdTesting
import ProximaCore
import Store
import XCTest

final class FeedbackRouterTests: XCTestCase {
    func testThumbsAndChoicesAreStoredOnceAndTheLatestVerdictIsKept() async throws {
        let server = try await TestServer()
        let id = try await server.test { client -> String in
            let json = try await client.complete()
            let id = try XCTUnwrap(json["id"] as? String)
            let pairID = try XCTUnwrap((json["proxima"] as? [String: Any])?["pair_id"] as? String)

            let thumb = #"{"response_id": "\#(id)", "rating": "up", "event_id": "e-1", "comment": "nice"}"#
            let first = try await client.post("/v1/feedback", json: thumb)
            XCTAssertEqual(first.status, .ok)
            XCTAssertEqual(try first.jsonObject()["status"] as? String, "recorded")
            XCTAssertEqual(try first.jsonObject()["event_id"] as? String, "e-1")
            let retry = try await client.post("/v1/feedback", json: thumb)
            XCTAssertEqual(retry.status, .ok)
            XCTAssertEqual(try retry.jsonObject()["status"] as? String, "duplicate")
            try await client.post("/v1/feedback", json: #"{"response_id": "\#(id)", "rating": "down", "event_id": "e-1"}"#)
                .assertError(.conflict, param: "event_id", code: "conflict")

            // This request showed one response (n = 1): its pair's second sample was never seen, so no choice.
            try await client.post("/v1/feedback", json: #"{"pair_id": "\#(pairID)", "choice": 1}"#)
                .assertError(.badRequest, param: "pair_id", code: "hidden_sample")
            let both = try await client.complete(#", "n": 2"#)
            let shownPair = try XCTUnwrap((both["proxima"] as? [String: Any])?["pair_id"] as? String)
            try await client.post("/v1/feedback", json: #"{"pair_id": "\#(shownPair)", "choice": "1"}"#)
                .assertError(.badRequest, param: "choice")
            let choice = try await client.post("/v1/feedback", json: #"{"pair_id": "\#(shownPair)", "choice": 1}"#)
            XCTAssertEqual(choice.status, .ok)
            XCTAssertTrue((try choice.jsonObject()["event_id"] as? String ?? "").hasPrefix("evt-"), "an event id is generated")
            let tie = try await client.post("/v1/feedback", json: #"{"pair_id": "\#(shownPair)", "choice": "tie"}"#)
            XCTAssertEqual(tie.status, .ok)
            return id
        }
        let events = try await server.store.feedback(requestID: id)
        XCTAssertEqual(events.map(\.verdict), [.thumb(sampleIndex: 0, rating: .up)])
        XCTAssertEqual(events.first?.comment, "nice")
        XCTAssertEqual(events.first?.source, .user)
        let labelled = try await server.store.countLabelledPairs(LabelledPairQuery())
        XCTAssertEqual(labelled, 1, "the thumb labels the first pair; on the second the latest verdict, a tie, counts")
    }

    /// Only the key that made a request may rate it (or an admin key): one user cannot steer what another's
    /// conversations teach.
    func testFeedbackComesFromTheKeyThatMadeTheRequest() async throws {
        let server = try await TestServer(keys: APIKeys(userKeys: ["k-one", "k-two"], adminKeys: ["k-admin"]))
        try await server.test { client in
            let mine = try await client.complete(#", "n": 2"#, headers: [.authorization: "Bearer k-one"])
            let id = try XCTUnwrap(mine["id"] as? String)
            let pair = try XCTUnwrap((mine["proxima"] as? [String: Any])?["pair_id"] as? String)
            try await client.post("/v1/feedback", json: #"{"response_id": "\#(id)", "rating": "up"}"#, headers: [.authorization: "Bearer k-two"])
                .assertError(.forbidden, type: "permission_error")
            try await client.post("/v1/feedback", json: #"{"pair_id": "\#(pair)", "choice": 0}"#, headers: [.authorization: "Bearer k-two"])
                .assertError(.forbidden, type: "permission_error")
            let own = try await client.post("/v1/feedback", json: #"{"response_id": "\#(id)", "rating": "up"}"#,
                                            headers: [.authorization: "Bearer k-one"])
            XCTAssertEqual(own.status, .ok)
            let admin = try await client.post("/v1/feedback", json: #"{"pair_id": "\#(pair)", "choice": 0}"#,
                                              headers: [.authorization: "Bearer k-admin"])
            XCTAssertEqual(admin.status, .ok)
        }
    }

    func testUnknownIdsAre404AndBadBodiesAre400() async throws {
        let server = try await TestServer()
        try await server.test { client in
            try await client.post("/v1/feedback", json: #"{"response_id": "chatcmpl-nope", "rating": "up"}"#)
                .assertError(.notFound, param: "response_id", code: "not_found")
            try await client.post("/v1/feedback", json: #"{"pair_id": "pair-nope", "choice": 0}"#)
                .assertError(.notFound, param: "pair_id", code: "not_found")
            for (body, param) in [(#"{"response_id": "x", "rating": "meh"}"#, "rating"), (#"{"response_id": "x"}"#, "rating"),
                                  (#"{"pair_id": "x", "choice": 2}"#, "choice"), (#"{"pair_id": "x"}"#, "choice"),
                                  (#"{"rating": "up"}"#, "response_id"), (#"{"response_id": "x", "pair_id": "y", "rating": "up"}"#, "pair_id"),
                                  (#"{"response_id": "x", "rating": "up", "event_id": "\#(String(repeating: "e", count: 129))"}"#, "event_id"),
                                  (#"{"response_id": "x", "rating": "up", "comment": "\#(String(repeating: "c", count: 4001))"}"#, "comment"),
                                  (#"{"response_id": 5, "rating": "up"}"#, "response_id")] {
                try await client.post("/v1/feedback", json: body).assertError(.badRequest, param: param)
            }
            try await client.post("/v1/feedback", json: "{", headers: [:]).assertError(.badRequest, code: "invalid_json")
        }
    }
}
