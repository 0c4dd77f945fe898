// StatisticsTests: the report's intervals against hand-computed values, and the bootstrap's properties.

import Experiments
import XCTest

final class StatisticsTests: XCTestCase {
    func testMeanIntervalIsStudentsT() {
        // mean 0.8, sample sd 0.1 over 3 seeds: half-width t(2) · 0.1/√3 = 4.303 · 0.057735.
        let (mean, half) = Statistics.meanInterval([0.7, 0.8, 0.9])
        XCTAssertEqual(mean, 0.8, accuracy: 1e-12)
        XCTAssertEqual(half!, 4.303 * 0.1 / 3.0.squareRoot(), accuracy: 1e-9)
        XCTAssertNil(Statistics.meanInterval([0.5]).halfWidth)
        XCTAssertEqual(Statistics.tQuantile975(degreesOfFreedom: 100), 1.96)
    }

    func testPairedBootstrapBracketsTheMeanAndIsReproducible() {
        let d = (0..<200).map { Double($0 % 4 == 0 ? 1 : 0) - 0.1 }   // mean 0.15
        let r = Statistics.pairedBootstrap(d)
        XCTAssertEqual(r.mean, 0.15, accuracy: 1e-12)
        XCTAssertLessThan(r.low, r.mean)
        XCTAssertGreaterThan(r.high, r.mean)
        // Standard error √(0.25·0.75/200) ≈ 0.031: the interval is about ±0.06 wide.
        XCTAssertEqual(r.high - r.low, 4 * 0.0306, accuracy: 0.03)
        XCTAssertEqual(Statistics.pairedBootstrap(d).low, r.low)
        // No difference at all: a zero-width interval at 0.
        let zero = Statistics.pairedBootstrap([0, 0, 0])
        XCTAssertEqual([zero.mean, zero.low, zero.high], [0, 0, 0])
    }
}
