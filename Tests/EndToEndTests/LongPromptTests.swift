// LongPromptTests: over a real socket, a short chat sent while a long prompt prefills is answered first: the
// long prompt is prefilled a chunk per step and the short one goes ahead of it (no head-of-line blocking).

import Foundation
import TestSupport
import XCTest

final class LongPromptTests: XCTestCase {
    func testAShortChatIsNotHeldUpByALongPrompt() throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase(), environment: ["PROXIMA_LEARNER_ENABLED": "false"])
        defer { server.stop(SIGTERM) }
        let url = "\(server.baseURL)/v1/chat/completions"
        let longText = (0..<500).map { "word\($0)" }.joined(separator: " ")   // about 2,000 tokens
        let finished = FinishOrder()
        let group = DispatchGroup()
        DispatchQueue.global().async(group: group) {
            let r = try? Curl.postJSON(url, #"{"messages": [{"role": "user", "content": "\#(longText)"}], "max_tokens": 1, "temperature": 0}"#)
            finished.add(r, label: "long")
        }
        Thread.sleep(forTimeInterval: 0.5)   // the long prompt is prefilling now
        DispatchQueue.global().async(group: group) {
            let r = try? Curl.postJSON(url, #"{"messages": [{"role": "user", "content": "Hi!"}], "max_tokens": 4, "temperature": 0}"#)
            finished.add(r, label: "short")
        }
        XCTAssertEqual(group.wait(timeout: .now() + 300), .success)
        XCTAssertEqual(finished.failures, [], "\(finished.labels)")
        XCTAssertEqual(finished.labels, ["short", "long"], "the short chat waited for the long prompt")
    }
}

/// Responses in the order they finished.
private final class FinishOrder: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var labels: [String] = []
    private(set) var failures: [String] = []

    func add(_ response: Curl.Response?, label: String) {
        lock.withLock {
            labels.append(label)
            if response?.status != 200 { failures.append("\(label): \(response.map { "\($0.status) \($0.text)" } ?? "no response")") }
        }
    }
}
