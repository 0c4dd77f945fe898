// ExperimentCommandTests: `proxima experiment` runs the papers' variants (annotation frequency F, TR-DPO
// references, KTO) end to end on the real model at a tiny size, one run or a grid with its report; bad input
// (a frequency out of range, a bad grid file, a judge that cannot be reached) is refused in one line before
// anything is written.

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
        let evaluation = try XCTUnwrap(last["evaluation"] as? [String: Any], "\(last)")
        XCTAssertNotNil(evaluation["win_rate"], "\(last)")
        XCTAssertEqual((evaluation["outcomes"] as? String)?.count, 2, "\(last)")
    }

    /// A grid of two variants (one KTO) × one seed runs into its directory, writes the report and plots, and a
    /// second run without --resume is refused; with --resume it finds nothing left to do.
    func testAGridRunsResumesAndReports() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-grid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let grid = dir.appendingPathComponent("grid.yaml")
        try """
            base: {steps: 2, prompts_per_step: 3, max_tokens: 8, ensemble: 1, rank: 2, eval_every: 2, eval_prompts: 2}
            seeds: [0]
            variants:
              bpo: {reference: behavior}
              kto: {reference: initial, loss: kto}
            """.write(to: grid, atomically: true, encoding: .utf8)
        let out = dir.appendingPathComponent("out").path
        let model = try TestPaths.defaultModel()
        let first = try run(["experiment", "--model", model, "--threads", "2", "--grid", grid.path, "--out", out])
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        for file in ["report.md", "win-rate.svg", "loss.svg", "runs/kto/seed-0/finished", "runs/bpo/seed-0/steps.jsonl"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: "\(out)/\(file)"), file)
        }
        let report = try String(contentsOfFile: "\(out)/report.md", encoding: .utf8)
        XCTAssertTrue(report.contains("2 of 2 runs finished") && report.contains("| kto |"), report)
        let again = try run(["experiment", "--model", model, "--grid", grid.path, "--out", out])
        XCTAssertNotEqual(again.status, 0)
        XCTAssertTrue(again.stderr.contains("already holds a grid's runs: pass --resume"), again.stderr)
        let resumed = try run(["experiment", "--model", model, "--threads", "2", "--grid", grid.path, "--out", out, "--resume"])
        XCTAssertEqual(resumed.status, 0, resumed.stdout + resumed.stderr)
        let reportOnly = try run(["experiment", "--grid", grid.path, "--out", out, "--report-only"])
        XCTAssertEqual(reportOnly.status, 0, reportOnly.stderr)
    }

    /// Bad grid input: one line naming the problem, nothing written.
    func testBadGridInputIsOneLineAndWritesNothing() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-grid-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let cases: [(String, String)] = [
            ("base: {steps: 4}\nvariants: {a: {frequency: 9}}", "variant a: frequency: the annotation frequency must be in 1...4"),
            ("variants: {a: {colour: red}}", "variant a: unknown setting 'colour'"),
            ("variants: {a: {simulator: \"remote:http://127.0.0.1:1/v1?attempts=1\"}}", "cannot judge: remote judge http://127.0.0.1:1/v1 failed 1 time: connection refused"),
            ("variants: [unclosed", "is not YAML"),
        ]
        for (i, (text, expected)) in cases.enumerated() {
            let grid = dir.appendingPathComponent("grid-\(i).yaml")
            try text.write(to: grid, atomically: true, encoding: .utf8)
            let out = dir.appendingPathComponent("out-\(i)").path
            let r = try run(["experiment", "--model", try TestPaths.defaultModel(), "--grid", grid.path, "--out", out])
            XCTAssertNotEqual(r.status, 0, text)
            XCTAssertTrue(r.stderr.contains(expected), "\(text) → \(r.stderr)")
            XCTAssertEqual(r.stderr.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: "\n").count, 1, r.stderr)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "nothing written for \(text)")
        }
    }
}
