// GridFileTests: a grid file's variants × seeds and its settings; every kind of bad file refused in one line
// that names the problem.

import Experiments
import Learning
import ProximaCore
import XCTest

final class GridFileTests: XCTestCase {
    func testTheIssueExampleGivesEveryVariantAtEverySeed() throws {
        let grid = try GridFile.parse("""
            base: {steps: 100, prompts_per_step: 16, max_tokens: 96, lr: 2e-4, beta: 0.1, ensemble: 5, rank: 16,
                   eval_every: 25, eval_prompts: 200}
            seeds: [0, 1, 2]
            variants:
              offline-dpo: {frequency: 1, reference: initial}
              bpo-f2:      {frequency: 2, reference: behavior}
              tr-dpo-hard: {frequency: 100, reference: "hard:20"}
              ipo:         {loss: ipo}
            """)
        XCTAssertEqual(grid.variants.map(\.name), ["offline-dpo", "bpo-f2", "tr-dpo-hard", "ipo"])
        XCTAssertEqual(grid.runs.count, 12)
        // Seed by seed: every variant at seed 0 first.
        XCTAssertEqual(grid.runs.prefix(4).map(\.seed), [0, 0, 0, 0])
        XCTAssertEqual(grid.runs[4].variant, "offline-dpo")
        XCTAssertEqual(grid.runs[4].seed, 1)
        XCTAssertEqual(grid.runs[5].settings.phase.seed, 1)
        let offline = grid.runs[0].settings
        XCTAssertEqual(offline.frequency, 1)
        XCTAssertEqual(offline.phase.reference, .initial)
        XCTAssertEqual(offline.phase.optimizer.learningRate, 2e-4)
        XCTAssertEqual(offline.phase.batchSize, 16)
        XCTAssertEqual(offline.evalPrompts, 200)
        XCTAssertEqual(grid.runs[2].settings.phase.reference, .hardUpdate(tau: 20))
        XCTAssertEqual(grid.runs[3].settings.phase.loss, .ipo)
        XCTAssertEqual(grid.runs[1].directory, "runs/bpo-f2/seed-0")
    }

    func testBadFilesAreRefusedInOneLineNamingTheProblem() {
        let cases: [(String, String)] = [
            ("variants: {a: {frequency: 1, colour: red}}", "unknown setting 'colour'"),
            ("base: {steps: 10}\nvariants: {a: {frequency: 11}}", "variant a: frequency: the annotation frequency must be in 1...10"),
            ("base: {steps: 10}\nvariants: {a: {frequency: 0}}", "frequency must be in 1...10"),
            ("variants: {a: {reference: sideways}}", "reference must be"),
            ("variants: {a: {lr: fast}}", "lr"),
            ("variants: [a, b]", "variants must be a map"),
            ("base: {steps: 10}", "variants must be a map"),
            ("variantz: {a: {}}", "unknown key 'variantz'"),
            ("variants: {a: {seed: 3}}", "sets seed"),
            ("seeds: [0, x]\nvariants: {a: {}}", "seeds must be whole numbers"),
            ("variants: {a: {steps: 10\n  - broken: [", "is not YAML"),
            ("just text", "must be a YAML map"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try GridFile.parse(text, name: "g.yaml"), text) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(expected), "\(text) → \(message)")
                XCTAssertFalse(message.contains("\n"), "one line: \(message)")
            }
        }
    }
}
