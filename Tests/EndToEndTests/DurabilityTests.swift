// DurabilityTests: kill -9 right after the 200s: every acknowledged chat (with its pair) and every
// acknowledged feedback event is in the database after the restart, over several kill/restart cycles.

import Foundation
import ProximaCore
import Store
import TestSupport
import XCTest

final class DurabilityTests: XCTestCase {
    func testSIGKILLAfterAcknowledgementLosesNothingOverRepeatedRestarts() async throws {
        let database = try LiveServer.temporaryDatabase()
        var acknowledgedChats: [String: String] = [:]     // response id → pair id
        var acknowledgedEvents: [String: String] = [:]    // event id → response id
        for cycle in 0..<3 {
            let server = try LiveServer(database: database)
            for k in 0..<4 {
                let chat = try Curl.postJSON("\(server.baseURL)/v1/chat/completions",
                                             #"{"messages": [{"role": "user", "content": "Fact \#(cycle)-\#(k)?"}], "max_tokens": 6, "seed": \#(k), "n": 2}"#)
                XCTAssertEqual(chat.status, 200, chat.text)
                let json = try chat.json()
                let id = try XCTUnwrap(json["id"] as? String)
                let pairID = try XCTUnwrap((json["proxima"] as? [String: Any])?["pair_id"] as? String)
                acknowledgedChats[id] = pairID
                let body = k % 2 == 0 ? #"{"response_id": "\#(id)", "rating": "up", "event_id": "kill-\#(cycle)-\#(k)"}"#
                                      : #"{"pair_id": "\#(pairID)", "choice": 1, "event_id": "kill-\#(cycle)-\#(k)"}"#
                let feedback = try Curl.postJSON("\(server.baseURL)/v1/feedback", body)
                XCTAssertEqual(feedback.status, 200, feedback.text)
                acknowledgedEvents["kill-\(cycle)-\(k)"] = id
            }
            server.stop(SIGKILL)

            let appDatabase = try AppDatabase.open(path: database)
            let store = SQLiteProximaStore(database: appDatabase)
            for (id, pairID) in acknowledgedChats {
                let logged = try await XCTUnwrapAsync(await store.loggedRequest(id: id), "chat \(id) lost after kill -9 in cycle \(cycle)")
                XCTAssertEqual(logged.request.pairID, pairID)
                XCTAssertEqual(logged.samples.count, 2)
            }
            for (eventID, id) in acknowledgedEvents {
                let events = try await store.feedback(requestID: id)
                XCTAssertTrue(events.contains { $0.eventID == eventID }, "feedback \(eventID) lost after kill -9 in cycle \(cycle)")
            }
            try appDatabase.close()
        }
        XCTAssertEqual(acknowledgedEvents.count, 12)
        // The database still opens for serving after the last kill.
        let server = try LiveServer(database: database)
        XCTAssertEqual(try Curl.run(["\(server.baseURL)/ready"]).status, 200)
        XCTAssertEqual(server.stop(SIGTERM), 0)
    }
}
