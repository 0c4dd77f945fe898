// SeededGeneratorTests: xoshiro256** seeded by SplitMix64 gives the reference streams (computed with an
// independent Python implementation of both algorithms), so runs are reproducible across platforms.

import Sampling
import XCTest

final class SeededGeneratorTests: XCTestCase {
    func testKnownStreams() {
        let expected: [UInt64: [UInt64]] = [
            0: [0x99EC_5F36_CB75_F2B4, 0xBF6E_1F78_4956_452A, 0x1A5F_849D_4933_E6E0, 0x6AA5_94F1_262D_2D2C],
            42: [0x1578_0B2E_0C2E_C716, 0x6104_D986_6D11_3A7E, 0xAE17_5332_39E4_99A1, 0xECB8_AD47_03B3_60A1],
            .max: [0x8F55_20D5_2A7E_AD08, 0xC476_A018_CAA1_802D, 0x81DE_31C0_D260_469E, 0xBF65_8D7E_065F_3C2F],
        ]
        for (seed, stream) in expected {
            var generator = SeededGenerator(seed: seed)
            XCTAssertEqual((0..<4).map { _ in generator.next() }, stream, "seed \(seed)")
        }
    }

    func testUnitIntervalUsesTheTop53Bits() {
        XCTAssertEqual(SeededGenerator.unitInterval(0), 0)
        XCTAssertEqual(SeededGenerator.unitInterval(.max), 1 - 0x1p-53)
        XCTAssertEqual(SeededGenerator.unitInterval(1 << 63), 0.5)
        var generator = SeededGenerator(seed: 3)
        var copy = generator
        XCTAssertEqual(generator.nextUnitInterval(), SeededGenerator.unitInterval(copy.next()))
    }
}
