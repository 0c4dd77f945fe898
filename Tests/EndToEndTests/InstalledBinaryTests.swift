// InstalledBinaryTests: the binary as an installed service runs it — copied out of the package into a folder of
// its own and started from another working directory, with only --model and a relative --db — answers chat,
// feedback and an operator phase (the gate uses the held-out prompts built into the binary).

import Foundation
import TestSupport
import XCTest

final class InstalledBinaryTests: XCTestCase {
    func testACopiedBinaryServesFromAnyWorkingDirectory() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-installed-\(UUID().uuidString)")
        let bin = root.appendingPathComponent("opt/bin"), work = root.appendingPathComponent("work")
        try FileManager.default.createDirectory(at: bin, withIntermediateDirectories: true)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: root) }
        let copy = bin.appendingPathComponent("proxima")
        try FileManager.default.copyItem(at: LiveServer.builtBinary, to: copy)

        // The database path is relative: it resolves against the working directory, not the binary's folder.
        let server = try LiveServer(database: "state/proxima.sqlite", arguments: [], environment: [
            "PROXIMA_LEARNER_AUTOMATIC": "false", "PROXIMA_LEARNER_GATE_PROMPT_COUNT": "3", "PROXIMA_LEARNER_GATE_MAX_TOKENS": "8",
        ], binary: copy, workingDirectory: work)
        defer { server.stop(SIGTERM) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: work.appendingPathComponent("state/proxima.sqlite").path), server.log)

        var pairs: [String] = []
        for k in 0..<4 {
            let chat = try Curl.postJSON("\(server.baseURL)/v1/chat/completions",
                                         #"{"messages": [{"role": "user", "content": "Name a colour, \#(k)."}], "n": 2, "max_tokens": 10, "seed": \#(k)}"#)
            XCTAssertEqual(chat.status, 200, chat.text)
            pairs.append(try XCTUnwrap((try chat.json()["proxima"] as? [String: Any])?["pair_id"] as? String, chat.text))
        }
        for pair in pairs {
            let feedback = try Curl.postJSON("\(server.baseURL)/v1/feedback", #"{"pair_id": "\#(pair)", "choice": 0}"#)
            XCTAssertEqual(feedback.status, 200, feedback.text)
        }
        let start = try Curl.postJSON("\(server.baseURL)/admin/phases",
                                      #"{"steps": 1, "ensemble": 1, "rank": 2, "targets": ["q"], "batch_size": 4}"#)
        XCTAssertEqual(start.status, 202, start.text)
        let id = try XCTUnwrap(try start.json()["id"] as? Int)
        let deadline = Date().addingTimeInterval(300)
        var phase: [String: Any] = [:]
        while Date() < deadline {
            phase = try Curl.run(["\(server.baseURL)/admin/phases/\(id)"]).json()
            if let status = phase["status"] as? String, ["succeeded", "rejected", "failed"].contains(status) { break }
            Thread.sleep(forTimeInterval: 0.5)
        }
        XCTAssertTrue(["succeeded", "rejected"].contains(phase["status"] as? String ?? ""), "\(phase)\n\(server.log)")
        XCTAssertEqual(phase["result_version"] as? String, "v1", "\(phase)")
        // The version's files went beside the database, in the working directory.
        let files = try FileManager.default.contentsOfDirectory(atPath: work.appendingPathComponent("state/policies").path)
        XCTAssertFalse(files.isEmpty, server.log)
    }
}
