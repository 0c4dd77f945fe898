// TokenSamplerTests: TokenSampler against NaiveSampler on random rows for many parameter combinations (same
// kept set, same token for the same coin, raw log-prob within 1e-5), greedy, seeds and invalid input.

import Sampling
import XCTest

final class TokenSamplerTests: XCTestCase {
    /// Decisions closer than this (relative to the mass involved) are skipped: the sampler's Float weights
    /// carry about 1e-6 relative error, so Float and Double may legitimately disagree there.
    private let decisionMargin = 1e-5

    private let parameterGrid: [SamplingParameters] = {
        var grid: [SamplingParameters] = []
        for temperature: Float in [0.4, 1, 1.7] {
            for topK in [0, 1, 5, 40, 300] {
                for topP: Float in [1, 0.95, 0.5, 0.1] {
                    for minP: Float in [0, 0.05, 0.3] {
                        grid.append(SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP))
                    }
                }
            }
        }
        return grid
    }()

    private func rows() -> [(String, [Float])] {
        var factory = LogitsFactory(seed: 2024)
        return [
            ("gaussian 1", factory.gaussian(1, spread: 1)),
            ("gaussian 17", factory.gaussian(17, spread: 1)),
            ("gaussian 300", factory.gaussian(300, spread: 3, offset: -40)),
            ("peaked 1000", factory.peaked(1000)),
            ("tied 700", factory.tied(700)),
            ("masked 513", factory.masked(513)),
            ("flat 2000", factory.gaussian(2000, spread: 0.3)),
        ]
    }

    // MARK: - Against the reference

    func testMatchesNaiveReferenceAcrossParameters() throws {
        var coins = SeededGenerator(seed: 99)
        var compared = 0, skipped = 0
        for (name, logits) in rows() {
            for parameters in parameterGrid {
                var sampler = try TokenSampler(parameters: parameters)
                let naive = NaiveSampler(logits: logits, parameters: parameters)
                let expected = naive.keptDistribution()
                guard expected.margin > decisionMargin else {
                    skipped += 1
                    continue
                }
                let kept = try sampler.distribution(logits)
                XCTAssertEqual(kept.map(\.id), expected.ids, "\(name) \(parameters)")
                for (entry, probability) in zip(kept, expected.probabilities) {
                    XCTAssertEqual(Double(entry.probability), probability, accuracy: 1e-5, "\(name) \(parameters) id \(entry.id)")
                }
                let rawLogProbs = naive.rawLogProbs
                for coin in [0, 0.999_999_9] + (0..<6).map({ _ in coins.nextUnitInterval() }) {
                    let reference = NaiveSampler.draw(from: expected, coin: coin)
                    guard reference.margin > decisionMargin else {
                        skipped += 1
                        continue
                    }
                    let token = try sampler.sample(logits, coin: coin)
                    XCTAssertEqual(token.id, reference.id, "\(name) \(parameters) coin \(coin)")
                    XCTAssertEqual(Double(token.logProb), rawLogProbs[token.id], accuracy: 1e-5, "\(name) \(parameters)")
                    compared += 1
                }
            }
        }
        XCTAssertGreaterThan(compared, 5000)
        XCTAssertLessThan(skipped, compared / 20, "too many near-boundary cases skipped for the test to mean much")
    }

    func testFullVocabularyRows() throws {
        var factory = LogitsFactory(seed: 7)
        var coins = SeededGenerator(seed: 8)
        var compared = 0
        for logits in [factory.peaked(49_152), factory.gaussian(49_152, spread: 1)] {
            let rawLogProbs = NaiveSampler(logits: logits, parameters: SamplingParameters()).rawLogProbs
            for parameters in [SamplingParameters(), SamplingParameters(topP: 0.9), SamplingParameters(temperature: 0.7, topK: 40, topP: 0.95, minP: 0.05)] {
                var sampler = try TokenSampler(parameters: parameters)
                let naive = NaiveSampler(logits: logits, parameters: parameters)
                let expected = naive.keptDistribution()
                let truncationIsClear = expected.margin > decisionMargin
                if truncationIsClear { XCTAssertEqual(try sampler.distribution(logits).map(\.id), expected.ids, "\(parameters)") }
                for _ in 0..<4 {
                    let coin = coins.nextUnitInterval()
                    let reference = NaiveSampler.draw(from: expected, coin: coin)
                    let token = try sampler.sample(logits, coin: coin)
                    if truncationIsClear, reference.margin > decisionMargin {
                        XCTAssertEqual(token.id, reference.id, "\(parameters)")
                        compared += 1
                    }
                    XCTAssertEqual(Double(token.logProb), rawLogProbs[token.id], accuracy: 1e-5)
                }
            }
        }
        XCTAssertGreaterThan(compared, 16)
    }

    func testEqualLogitsAreCutByLowestIdFirst() throws {
        let logits = [Float](repeating: 0.25, count: 1000)
        var topK = try TokenSampler(parameters: SamplingParameters(topK: 10))
        XCTAssertEqual(try topK.distribution(logits).map(\.id), Array(0..<10))
        var topP = try TokenSampler(parameters: SamplingParameters(topP: 0.25))
        let kept = try topP.distribution(logits)
        XCTAssertEqual(kept.map(\.id), Array(0..<250))
        XCTAssertEqual(kept[0].probability, 1 / 250, accuracy: 1e-7)
        XCTAssertEqual(try topP.sample(logits, coin: 0.999).id, 249)
    }

    // MARK: - Greedy

    func testGreedyPicksTheLowestIdAmongMaxima() throws {
        var sampler = try TokenSampler(parameters: .greedy)
        let logits: [Float] = [0.5, 3, -1, 3, 2]
        let rawLogProbs = NaiveSampler(logits: logits, parameters: .greedy).rawLogProbs
        for coin in [0, 0.3, 0.999] {
            let token = try sampler.sample(logits, coin: coin)
            XCTAssertEqual(token.id, 1)
            XCTAssertEqual(Double(token.logProb), rawLogProbs[1], accuracy: 1e-6)
        }
        XCTAssertEqual(try sampler.distribution(logits), [TokenProbability(id: 1, probability: 1)])
        // Top-k 1 and a vanishing temperature are greedy too.
        var topOne = try TokenSampler(parameters: SamplingParameters(topK: 1))
        XCTAssertEqual(try topOne.sample(logits, coin: 0.9).id, 1)
        // (Without the tie: a vanishing temperature splits a tie evenly, as the limit of the softmax does.)
        var cold = try TokenSampler(parameters: SamplingParameters(temperature: 1e-30))
        XCTAssertEqual(try cold.sample([0.5, 3, -1, 2.9, 2], coin: 0.9).id, 1)
    }

    func testGreedyStillConsumesOneDraw() throws {
        var sampler = try TokenSampler(parameters: .greedy)
        var generator = SeededGenerator(seed: 5)
        var expected = generator
        _ = try sampler.sample([1, 2, 3], using: &generator)
        _ = expected.next()
        XCTAssertEqual(generator, expected)
    }

    // MARK: - Seeds

    func testSameSeedSameTokensDifferentSeedDifferentTokens() throws {
        var factory = LogitsFactory(seed: 11)
        let rows = (0..<50).map { _ in factory.gaussian(500, spread: 1.5) }
        func run(seed: UInt64) throws -> [SampledToken] {
            var sampler = try TokenSampler(parameters: SamplingParameters(temperature: 0.9, topP: 0.95))
            var generator = SeededGenerator(seed: seed)
            return try rows.map { try sampler.sample($0, using: &generator) }
        }
        XCTAssertEqual(try run(seed: 123), try run(seed: 123))
        XCTAssertNotEqual(try run(seed: 123).map(\.id), try run(seed: 124).map(\.id))
    }

    func testDrawFrequenciesFollowTheKeptDistribution() throws {
        let logits: [Float] = [2, 1, 0, -1, -3]
        var sampler = try TokenSampler(parameters: SamplingParameters(temperature: 1, topP: 0.9))
        let expected = try sampler.distribution(logits)
        var generator = SeededGenerator(seed: 77)
        var counts = [Int](repeating: 0, count: logits.count)
        let trials = 20_000
        for _ in 0..<trials { counts[try sampler.sample(logits, using: &generator).id] += 1 }
        for entry in expected {
            XCTAssertEqual(Double(counts[entry.id]) / Double(trials), Double(entry.probability), accuracy: 0.015)
        }
        XCTAssertEqual(expected.reduce(0) { $0 + counts[$1.id] }, trials, "only kept tokens are drawn")
    }

    // MARK: - Invalid input

    func testInvalidParametersAreRejected() {
        let invalid = [SamplingParameters(temperature: -1), SamplingParameters(temperature: .nan),
                       SamplingParameters(temperature: .infinity), SamplingParameters(topK: -1),
                       SamplingParameters(topP: 0), SamplingParameters(topP: 1.01), SamplingParameters(topP: .nan),
                       SamplingParameters(minP: -0.1), SamplingParameters(minP: 1.5), SamplingParameters(minP: .nan)]
        for parameters in invalid {
            XCTAssertThrowsError(try TokenSampler(parameters: parameters), "\(parameters)") { error in
                guard case SamplingError.invalidParameter = error else { return XCTFail("unexpected \(error)") }
                XCTAssertTrue("\(error)".contains("hint:"))
            }
        }
    }

    func testInvalidLogitsAreRejected() throws {
        var sampler = try TokenSampler()
        XCTAssertThrowsError(try sampler.sample([], coin: 0)) { XCTAssertEqual($0 as? SamplingError, .emptyLogits) }
        for logits: [Float] in [[1, .nan, 2], [1, .infinity], [-.infinity, -.infinity]] {
            XCTAssertThrowsError(try sampler.sample(logits, coin: 0.5)) { XCTAssertEqual($0 as? SamplingError, .nonFiniteLogits) }
        }
    }

    func testMaskedTokensAreNeverDrawn() throws {
        let logits: [Float] = [-.infinity, 0, -.infinity, 0.5, -.infinity]
        var sampler = try TokenSampler(parameters: SamplingParameters(temperature: 2, topK: 4))
        for coin in stride(from: 0.0, to: 1, by: 0.05) {
            XCTAssertTrue([1, 3].contains(try sampler.sample(logits, coin: coin).id))
        }
        XCTAssertEqual(try sampler.distribution(logits).map(\.id), [1, 3])
    }
}
