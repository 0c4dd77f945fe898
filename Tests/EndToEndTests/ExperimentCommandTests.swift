// ExperimentCommandTests: `proxima experiment` runs the papers' variants (annotation frequency F, TR-DPO
// references) end to end on the real model at a tiny size, and refuses a frequency out of range in one line
// before it loads anything.

import Foundation
import TestSupport
import XCTest

final class ExperimentCommandTests: XCTestCase {
    private func run(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        let process = Process()
        process.executableURL = LiveServer.builtBinary
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PROXIMA_") }
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stdout = out.fileHandleForReading.readDataToEndOfFile(), stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: stdout, as: UTF8.self), String(decoding: stderr, as: UTF8.self))
    }

    func testFrequencyOutOfRangeIsRefusedBeforeTheModelLoads() throws {
        let r = try run(["experiment", "--steps", "10", "--frequency", "11", "--model", "/nonexistent/model.gguf"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("--frequency: the annotation frequency must be in 1...10, the steps (got 11)"), r.stderr)
        XCTAssertFalse(r.stderr.contains("nonexistent"), "the frequency is checked first: \(r.stderr)")
    }

    /// Offline (F = 1) with TR-DPO's hard reference update: every step trains on pairs the initial policy sampled.
    func testOfflineTRDPORunsAndLogsEveryStep() throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-experiment-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: log) }
        let r = try run(["experiment", "--model", try TestPaths.defaultModel(), "--threads", "2", "--steps", "3", "--frequency", "1",
                         "--reference", "hard:1", "--prompts-per-step", "3", "--max-tokens", "8", "--eval-every", "3",
                         "--eval-prompts", "2", "--ensemble", "2", "--rank", "2", "--json-out", log.path])
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr)
        let output = r.stdout + r.stderr
        XCTAssertTrue(output.contains("F=1,") && output.contains("reference=hard:1"), output)
        let lines = try String(contentsOf: log, encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 3, output)
        let last = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(lines[2].utf8)) as? [String: Any])
        XCTAssertNotNil(last["win_rate"], "\(last)")
        XCTAssertNotNil(last["eval_seconds"], "\(last)")
    }
}
