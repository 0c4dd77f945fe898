// GridRunnerTests: a grid on the tiny chat model — interrupted twice (once with a step recorded past its
// checkpoint, as a kill between the two writes leaves it) and resumed, its runs record the same numbers as an
// uninterrupted grid's; a finished run is not run again; the report and its plots are written.

import Experiments
import Foundation
import Inference
import ProximaNumerics
import Service
import Simulators
import TestModels
import XCTest

final class GridRunnerTests: XCTestCase {
    static let gridText = """
        base: {steps: 4, prompts_per_step: 3, max_tokens: 8, ensemble: 2, rank: 2, lr: 1e-2, eval_every: 2, eval_prompts: 3}
        seeds: [0]
        variants:
          bpo-f2: {frequency: 2}
          tr-hard: {reference: "hard:3", loss: ipo}
          offline: {frequency: 1, reference: initial}
        """
    let train = ["say hi", "count to three", "name a fruit", "what is two plus two", "spell cat"]
    let dev = ["hello", "why?", "ok then"]

    private func withModel(_ body: (ModelBundle, ComputePool) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-grid-\(UUID().uuidString).gguf").path
        try TinyChatModel.write(to: path)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        try await body(try ModelBundle(path: path, pool: pool), pool)
    }

    private func runner(_ dir: String, _ model: ModelBundle, _ pool: ComputePool) throws -> GridRunner {
        GridRunner(grid: try GridFile.parse(Self.gridText), directory: dir, model: model, pool: pool, trainPrompts: train, devPrompts: dev,
                   makeJudge: { _ in try RubricSimulator() }, referee: try RubricSimulator())
    }

    /// Records without their timings.
    private func numbers(_ dir: String, _ run: String) -> [StepRecord] {
        GridRunner.records(in: URL(fileURLWithPath: dir).appendingPathComponent(run)).map { r in
            var r = r
            r.sampleSeconds = 0
            r.trainSeconds = r.trainSeconds.map { _ in 0 }
            r.evaluation?.seconds = 0
            return r
        }
    }

    func testAResumedGridRecordsWhatAnUninterruptedOneDoes() async throws {
        try await withModel { model, pool in
            let base = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-grid-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: base) }
            let whole = base + "/whole", pieces = base + "/pieces"
            try await runner(whole, model, pool).run { _ in }

            // Stopped after 3 steps (bpo-f2 in its second block), then after 6 (tr-hard after its first hard update).
            for stopAt in [3, 6] {
                let r = try runner(pieces, model, pool)
                let task = Task {
                    try await r.run { p in
                        if p.done == stopAt { withUnsafeCurrentTask { $0?.cancel() } }
                    }
                }
                do { try await task.value; XCTFail("the grid should have been stopped") } catch is CancellationError {}
            }
            // A kill between a step's record and its checkpoint: the record is there, the checkpoint is not.
            let torn = URL(fileURLWithPath: pieces).appendingPathComponent("runs/tr-hard/seed-0/steps.jsonl")
            let handle = try FileHandle(forWritingTo: torn)
            try handle.seekToEnd()
            try handle.write(contentsOf: Data((#"{"step":3,"pairs":99,"ties":0,"identical":0,"sample_seconds":1}"# + "\n").utf8))
            try handle.close()
            var resumedSteps: [Int] = []
            try await runner(pieces, model, pool).run { p in resumedSteps.append(p.done) }
            XCTAssertEqual(resumedSteps, [7, 8, 9, 10, 11, 12], "bpo-f2 is finished and not run again; tr-hard continues at its step 3")

            for run in ["runs/bpo-f2/seed-0", "runs/tr-hard/seed-0", "runs/offline/seed-0"] {
                let expected = numbers(whole, run)
                XCTAssertEqual(expected.count, 4)
                XCTAssertEqual(numbers(pieces, run), expected, run)
                XCTAssertTrue(FileManager.default.fileExists(atPath: "\(pieces)/\(run)/finished"))
                XCTAssertFalse(FileManager.default.fileExists(atPath: "\(pieces)/\(run)/state.ckpt"), "a finished run's checkpoint is removed")
            }
            let records = numbers(whole, "runs/bpo-f2/seed-0")
            XCTAssertEqual(records.compactMap(\.evaluation).count, 2, "evaluated at steps 2 and 4")
            XCTAssertTrue(records.contains { $0.loss != nil }, "some step trained")

            let report = try GridReport(grid: try GridFile.parse(Self.gridText), directory: pieces).write()
            XCTAssertTrue(report.contains("3 of 3 runs finished"))
            XCTAssertTrue(report.contains("| bpo-f2 |"))
            for file in ["report.md", "win-rate.svg", "kl-vs-win-rate.svg", "loss.svg", "reward-accuracy.svg"] {
                let text = try String(contentsOfFile: "\(pieces)/\(file)", encoding: .utf8)
                XCTAssertFalse(text.isEmpty, file)
                if file.hasSuffix(".svg") { XCTAssertTrue(text.hasPrefix("<svg") && text.contains("bpo-f2"), file) }
            }
        }
    }

    func testARunStartedWithOtherSettingsIsNotResumed() async throws {
        try await withModel { model, pool in
            let dir = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-grid-\(UUID().uuidString)").path
            defer { try? FileManager.default.removeItem(atPath: dir) }
            try await runner(dir, model, pool).run(only: ["offline"]) { _ in }
            let changed = GridRunner(grid: try GridFile.parse(Self.gridText.replacingOccurrences(of: "lr: 1e-2", with: "lr: 1e-3")),
                                     directory: dir, model: model, pool: pool, trainPrompts: train, devPrompts: dev,
                                     makeJudge: { _ in try RubricSimulator() }, referee: try RubricSimulator())
            XCTAssertThrowsError(try changed.checkResumable()) { XCTAssertTrue("\($0)".contains("runs/offline/seed-0 was started with other settings")) }
            XCTAssertNoThrow(try runner(dir, model, pool).checkResumable())
        }
    }
}
