// RubricPreferenceTests: RubricSimulator.prefer and judge, with τ = 0 (deterministic, ties) and τ > 0
// (Bradley–Terry: a frequency check with a fixed seed, so the statistical test cannot flake).

import Foundation
import ProximaCore
import Simulators
import XCTest

// MARK: - Generators for the tests

/// SplitMix64: a small seeded generator, so the statistical checks see the same stream on every run.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Counts the numbers drawn from it.
struct CountingGenerator: RandomNumberGenerator {
    var base = SplitMix64(state: 7)
    var draws = 0
    mutating func next() -> UInt64 {
        draws += 1
        return base.next()
    }
}

final class RubricPreferenceTests: XCTestCase {
    private let prompt = "Explain photosynthesis in simple terms."
    private let good = Candidate(text: "Photosynthesis is how plants use sunlight, water and carbon dioxide to make sugar and release oxygen. It happens in the leaves, inside tiny parts called chloroplasts.", finished: true)
    private let bad = Candidate(text: "Plants plants plants plants plants plants plants plants", finished: false)

    // MARK: - τ = 0

    func testHigherScoreWinsAndNoRandomnessIsUsed() throws {
        let judge = try RubricSimulator()
        var rng = CountingGenerator()
        XCTAssertEqual(judge.prefer(prompt: prompt, a: good, b: bad, rng: &rng), Verdict(choice: .a, scores: .init(a: 1.5, b: -1.716667)))
        XCTAssertEqual(judge.prefer(prompt: prompt, a: bad, b: good, rng: &rng).choice, .b)
        XCTAssertEqual(rng.draws, 0)
        XCTAssertEqual(judge.name, "rubric-v1")
    }

    func testEqualScoresTie() throws {
        let judge = try RubricSimulator()
        var rng = SplitMix64(state: 1)
        XCTAssertEqual(judge.prefer(prompt: prompt, a: good, b: good, rng: &rng).choice, .tie)
        // Different texts with equal rounded scores tie too (15 and 16 distinct words, both finished: 1.0).
        let fifteen = Candidate(text: (0..<15).map { "w\($0)" }.joined(separator: " "), finished: true)
        let sixteen = Candidate(text: (0..<16).map { "w\($0)" }.joined(separator: " "), finished: true)
        XCTAssertEqual(judge.prefer(prompt: prompt, a: fifteen, b: sixteen, rng: &rng), Verdict(choice: .tie, scores: .init(a: 1, b: 1)))
    }

    func testEveryPairOfVectorsAgreesWithTheirScores() throws {
        let judge = try RubricSimulator()
        let vectors = try RubricVector.shared() + RubricVector.extra()
        let byPrompt = Dictionary(grouping: vectors, by: \.prompt)
        var compared = 0, ties = 0
        for group in byPrompt.values {
            for first in group {
                for second in group {
                    let verdict = judge.prefer(prompt: first.prompt,
                                               a: Candidate(text: first.response, finished: first.finished),
                                               b: Candidate(text: second.response, finished: second.finished), coin: 0.5)
                    let expected: Verdict.Choice = first.score == second.score ? .tie : (first.score > second.score ? .a : .b)
                    XCTAssertEqual(verdict.choice, expected, "\(first.note ?? first.response) vs \(second.note ?? second.response)")
                    compared += 1
                    if expected == .tie { ties += 1 }
                }
            }
        }
        XCTAssertGreaterThan(compared, 1000)
        XCTAssertGreaterThan(ties, compared / 20)
    }

    // MARK: - τ > 0

    func testBradleyTerryFrequencyMatchesSigmoid() throws {
        let sure = Candidate(text: "Sure!", finished: true)
        let pairs = [(good, bad), (bad, good), (good, good), (sure, good)]
        let trials = 10_000
        for tau in [0.5, 2.0] {
            let judge = try RubricSimulator(tau: tau)
            for (a, b) in pairs {
                var rng = SplitMix64(state: 42)
                var wins = 0
                var scores = Verdict.Scores(a: 0, b: 0)
                for _ in 0..<trials {
                    let verdict = judge.prefer(prompt: prompt, a: a, b: b, rng: &rng)
                    XCTAssertNotEqual(verdict.choice, .tie)
                    if verdict.choice == .a { wins += 1 }
                    scores = verdict.scores!
                }
                let expected = 1 / (1 + exp(-(scores.a - scores.b) / tau))
                // The standard error is at most 0.005; 0.025 is five of them, and the seed is fixed.
                XCTAssertEqual(Double(wins) / Double(trials), expected, accuracy: 0.025, "tau \(tau), scores \(scores)")
            }
        }
    }

    func testBradleyTerryDrawsExactlyOneNumberPerJudgement() throws {
        let judge = try RubricSimulator(tau: 0.5)
        var rng = CountingGenerator()
        for _ in 0..<10 { _ = judge.prefer(prompt: prompt, a: good, b: bad, rng: &rng) }
        XCTAssertEqual(rng.draws, 10)
        XCTAssertEqual(judge.name, "rubric-v1-tau0.5")
    }

    func testBradleyTerryCoinRuleAndSaturation() throws {
        let judge = try RubricSimulator(tau: 1)
        // Equal scores: probability one half, decided by the coin alone.
        XCTAssertEqual(judge.prefer(prompt: prompt, a: good, b: good, coin: 0.4999).choice, .a)
        XCTAssertEqual(judge.prefer(prompt: prompt, a: good, b: good, coin: 0.5).choice, .b)
        // A gap of 3.2 over a tiny τ overflows exp in Python; here the probability saturates.
        let sharp = try RubricSimulator(tau: 1e-4)
        XCTAssertEqual(sharp.prefer(prompt: prompt, a: bad, b: good, coin: 0).choice, .b)
        XCTAssertEqual(sharp.prefer(prompt: prompt, a: good, b: bad, coin: 0.999_999).choice, .a)
    }

    // MARK: - Protocol and validation

    func testJudgeThroughTheProtocol() async throws {
        let simulators: [any PreferenceSimulator] = [try RubricSimulator(), try RubricSimulator(tau: 0.1)]
        var rng = SplitMix64(state: 3)
        for simulator in simulators {
            let verdict = try await simulator.judge(prompt: prompt, a: bad, b: good, rng: &rng)
            XCTAssertEqual(verdict.choice, .b, simulator.name)
            XCTAssertEqual(verdict.scores, Verdict.Scores(a: -1.716667, b: 1.5))
        }
    }

    func testInvalidTauIsRejectedWithAHint() {
        for tau in [-0.1, .infinity, .nan] {
            XCTAssertThrowsError(try RubricSimulator(tau: tau)) { error in
                guard case SimulatorError.invalidTau = error else { return XCTFail("unexpected \(error)") }
                XCTAssertTrue("\(error)".contains("hint:"))
            }
        }
    }
}
