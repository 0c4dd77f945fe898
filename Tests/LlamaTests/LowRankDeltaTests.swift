// LowRankDeltaTests: y += scale · (x·Aᵀ)·Bᵀ against a naive double-precision reference, for the matrix-vector path
// (one or two rows, decode) and the sgemm path, with and without the pool.

import Llama
import ProximaNumerics
import XCTest

final class LowRankDeltaTests: XCTestCase {
    func testApplyMatchesTheNaiveProductForEveryRowCount() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        var g = SplitMix64(seed: 11)
        func random(_ n: Int) -> [Float] { (0..<n).map { _ in Float(g.next() >> 40) / Float(1 << 24) - 0.5 } }
        for (rank, input, output) in [(80, 576, 1536), (16, 96, 40), (3, 7, 5)] {
            let a = random(rank * input), b = random(output * rank)
            for m in 1...5 {
                let x = random(m * input), y0 = random(m * output)
                var expected = [Double](repeating: 0, count: m * output)
                for i in 0..<m {
                    let u = (0..<rank).map { r in (0..<input).reduce(0.0) { $0 + Double(x[i * input + $1]) * Double(a[r * input + $1]) } }
                    for o in 0..<output {
                        expected[i * output + o] = Double(y0[i * output + o]) + 0.25 * (0..<rank).reduce(0.0) { $0 + u[$1] * Double(b[o * rank + $1]) }
                    }
                }
                for p in [nil, pool] {
                    var y = y0, u = [Float](repeating: 0, count: m * rank)
                    a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            LowRankDelta(a: a.baseAddress!, b: b.baseAddress!, rank: rank, input: input, output: output, scale: 0.25)
                                .apply(x, &y, u: &u, m: m, pool: p)
                        }
                    }
                    let worst = zip(y, expected).map { abs(Double($0) - $1) }.max()!
                    XCTAssertLessThan(worst, 1e-3, "rank \(rank) \(input)→\(output), \(m) rows, pool \(p != nil)")
                }
            }
        }
    }
}
