// LogProbabilitiesTests: logSumExp, logSoftmax and topLogprobs against the Double reference in NaiveSampler.

import Sampling
import XCTest

final class LogProbabilitiesTests: XCTestCase {
    private func rows() -> [[Float]] {
        var factory = LogitsFactory(seed: 31)
        return [factory.gaussian(1, spread: 1), factory.gaussian(15, spread: 4), factory.peaked(49_152),
                factory.gaussian(5000, spread: 3, offset: 200), factory.tied(999), factory.masked(257)]
    }

    func testLogSoftmaxAndLogSumExpMatchDouble() throws {
        for logits in rows() {
            let reference = NaiveSampler(logits: logits, parameters: SamplingParameters()).rawLogProbs
            let computed = try LogProbabilities.logSoftmax(logits)
            for id in logits.indices where logits[id] > -.infinity {
                XCTAssertEqual(Double(computed[id]), reference[id], accuracy: 1e-5, "id \(id) of \(logits.count)")
            }
            XCTAssertEqual(computed.indices.filter { computed[$0] == -.infinity }, logits.indices.filter { logits[$0] == -.infinity })
            let firstFinite = logits.firstIndex { $0 > -.infinity }!
            XCTAssertEqual(try LogProbabilities.logSumExp(logits), Double(logits[firstFinite]) - reference[firstFinite], accuracy: 1e-5)
        }
    }

    func testTopLogprobsAreTheHighestInTokenOrder() throws {
        for logits in rows() {
            let naive = NaiveSampler(logits: logits, parameters: SamplingParameters())
            let reference = naive.rawLogProbs, order = naive.order
            for count in [0, 1, 5, 20, logits.count - 1, logits.count, logits.count + 3] where count >= 0 {
                let top = try LogProbabilities.topLogprobs(logits, count: count)
                XCTAssertEqual(top.map(\.id), Array(order.prefix(count)), "top \(count) of \(logits.count)")
                for entry in top where logits[entry.id] > -.infinity {
                    XCTAssertEqual(Double(entry.logProb), reference[entry.id], accuracy: 1e-5)
                }
            }
        }
    }

    func testInvalidRowsThrow() {
        XCTAssertThrowsError(try LogProbabilities.logSumExp([])) { XCTAssertEqual($0 as? SamplingError, .emptyLogits) }
        XCTAssertThrowsError(try LogProbabilities.logSoftmax([0, .nan])) { XCTAssertEqual($0 as? SamplingError, .nonFiniteLogits) }
        XCTAssertThrowsError(try LogProbabilities.topLogprobs([-.infinity], count: 1)) { XCTAssertEqual($0 as? SamplingError, .nonFiniteLogits) }
    }
}
