// TinyModelTests: a small random Llama (GQA, Q4_1/Q8_0/F32 weights, separate and tied heads) run through the
// batched forward — prefill, step-by-step decode and mixed batches of two sequences — against an
// independent naive Llama written here in Double. Needs no model file.

import Foundation
import XCTest
import Llama
import ProximaNumerics

final class TinyModelTests: XCTestCase {
    struct RNG {
        var state: UInt64
        mutating func next() -> UInt64 {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return state >> 11
        }
        mutating func float(_ scale: Float) -> Float { scale * (Float(next() % 2_000_001) / 1_000_000 - 1) }
    }

    static let config = LlamaConfig(layerCount: 2, dim: 64, ffnDim: 96, headCount: 4, kvHeadCount: 2, headDim: 16,
                                    vocabSize: 80, contextLength: 64, ropeBase: 10_000, normEps: 1e-5)

    /// Random weights; matrices alternate between F32, Q4_1 and Q8_0 so every kernel is exercised.
    static func makeWeights(tied: Bool, pool: ComputePool) -> LlamaWeights {
        var rng = RNG(state: 99)
        let c = config
        var typeIndex = 0
        func matrix(_ rows: Int, _ cols: Int) -> LinearWeight {
            let type: QuantType = [.f32, .q4_1, .q8_0][typeIndex % 3]
            typeIndex += 1
            var bytes: [UInt8] = []
            switch type {
            case .f32:
                bytes = (0..<(rows * cols)).map { _ in rng.float(0.3) }.withUnsafeBytes { Array($0) }
            case .q4_1:
                for _ in 0..<(rows * cols / 32) {
                    bytes += withUnsafeBytes(of: Float16(0.02 + rng.float(0.01)).bitPattern) { Array($0) }
                    bytes += withUnsafeBytes(of: Float16(-0.15 + rng.float(0.05)).bitPattern) { Array($0) }
                    bytes += (0..<16).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
            default:
                for _ in 0..<(rows * cols / 32) {
                    bytes += withUnsafeBytes(of: Float16(0.002 + rng.float(0.001)).bitPattern) { Array($0) }
                    bytes += (0..<32).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                }
            }
            return bytes.withUnsafeBytes { LinearWeight(rows: rows, cols: cols, type: type, bytes: $0.baseAddress!, pool: pool) }
        }
        func vector(_ n: Int) -> FloatBuffer { FloatBuffer((0..<n).map { _ in 1 + rng.float(0.2) }) }
        let layers = (0..<c.layerCount).map { _ in
            LlamaLayerWeights(attentionNorm: vector(c.dim), query: matrix(c.dim, c.dim), key: matrix(c.kvDim, c.dim),
                              value: matrix(c.kvDim, c.dim), output: matrix(c.dim, c.dim), ffnNorm: vector(c.dim),
                              gate: matrix(c.ffnDim, c.dim), up: matrix(c.ffnDim, c.dim), down: matrix(c.dim, c.ffnDim))
        }
        let embedding = matrix(c.vocabSize, c.dim)
        return LlamaWeights(config: c, tokenEmbedding: embedding, layers: layers, outputNorm: vector(c.dim),
                            outputHead: tied ? embedding : matrix(c.vocabSize, c.dim))
    }

    // MARK: - The naive reference, in Double

    static func naiveLogits(_ w: LlamaWeights, _ tokens: [Int]) -> [[Double]] {
        let c = w.config
        func mat(_ m: LinearWeight, _ x: [Double]) -> [Double] {
            (0..<m.rows).map { r in (0..<m.cols).reduce(0.0) { $0 + Double(m.dense[r * m.cols + $1]) * x[$1] } }
        }
        func norm(_ x: [Double], _ g: FloatBuffer) -> [Double] {
            let s = 1 / ((x.reduce(0) { $0 + $1 * $1 } / Double(x.count)) + Double(c.normEps)).squareRoot()
            return x.indices.map { x[$0] * s * Double(g.pointer[$0]) }
        }
        func rope(_ v: inout [Double], heads: Int, position: Int) {
            for h in 0..<heads {
                for i in 0..<(c.headDim / 2) {
                    let theta = Double(position) * pow(Double(c.ropeBase), -2 * Double(i) / Double(c.headDim))
                    let a = v[h * c.headDim + 2 * i], b = v[h * c.headDim + 2 * i + 1]
                    v[h * c.headDim + 2 * i] = a * cos(theta) - b * sin(theta)
                    v[h * c.headDim + 2 * i + 1] = a * sin(theta) + b * cos(theta)
                }
            }
        }
        var xs = tokens.map { t in (0..<c.dim).map { Double(w.tokenEmbedding.dense[t * c.dim + $0]) } }
        for layer in w.layers {
            var keys: [[Double]] = [], values: [[Double]] = []
            var attended: [[Double]] = []
            for (p, x) in xs.enumerated() {
                let h = norm(x, layer.attentionNorm)
                var q = mat(layer.query, h), k = mat(layer.key, h)
                rope(&q, heads: c.headCount, position: p)
                rope(&k, heads: c.kvHeadCount, position: p)
                keys.append(k)
                values.append(mat(layer.value, h))
                var out = [Double](repeating: 0, count: c.dim)
                for head in 0..<c.headCount {
                    let g = head / (c.headCount / c.kvHeadCount)
                    let scores = (0...p).map { j in (0..<c.headDim).reduce(0.0) { $0 + q[head * c.headDim + $1] * keys[j][g * c.headDim + $1] } / Double(c.headDim).squareRoot() }
                    let mx = scores.max()!
                    let e = scores.map { exp($0 - mx) }
                    let z = e.reduce(0, +)
                    for j in 0...p { for d in 0..<c.headDim { out[head * c.headDim + d] += e[j] / z * values[j][g * c.headDim + d] } }
                }
                attended.append(out)
            }
            for p in xs.indices {
                let o = mat(layer.output, attended[p])
                xs[p] = xs[p].indices.map { xs[p][$0] + o[$0] }
                let h = norm(xs[p], layer.ffnNorm)
                let g = mat(layer.gate, h), u = mat(layer.up, h)
                let act = g.indices.map { g[$0] / (1 + exp(-g[$0])) * u[$0] }
                let d = mat(layer.down, act)
                xs[p] = xs[p].indices.map { xs[p][$0] + d[$0] }
            }
        }
        return xs.map { mat(w.outputHead, norm($0, w.outputNorm)) }
    }

    // MARK: - Tests

    private func assertClose(_ got: UnsafePointer<Float>, _ want: [Double], _ message: String) {
        let worst = want.indices.map { abs(Double(got[$0]) - want[$0]) / (1 + abs(want[$0])) }.max()!
        XCTAssertLessThan(worst, 2e-5, message)
    }

    func testPrefillDecodeAndMixedBatchesMatchNaiveLlama() {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        for tied in [true, false] {
            let w = Self.makeWeights(tied: tied, pool: pool)
            let tokens = [3, 17, 42, 5, 79, 0, 11, 23, 60, 7, 7, 7]
            let other = [50, 1, 2, 3, 4, 5, 6, 9, 8]
            let reference = Self.naiveLogits(w, tokens), otherReference = Self.naiveLogits(w, other)
            let ws = InferenceWorkspace(config: Self.config, maxRows: 32)
            let v = Self.config.vocabSize

            // Whole sequence in one batch (the sgemm path), logits for every row.
            let cache = KVCache(config: Self.config, capacity: 4)
            let all = w.forward(tokens.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: true) },
                                workspace: ws, pool: pool)
            for p in tokens.indices { assertClose(all + p * v, reference[p], "tied=\(tied) prefill position \(p)") }

            // Token by token (the quantised matvec path), the cache growing past its first capacity.
            let stepCache = KVCache(config: Self.config, capacity: 2)
            for (p, t) in tokens.enumerated() {
                let l = w.forward([ForwardRow(token: t, position: p, cache: stepCache, wantsLogits: true)], workspace: ws, pool: pool)
                assertClose(l, reference[p], "tied=\(tied) decode position \(p)")
            }

            // Two sequences in one batch: a decode row of one, a prompt chunk of the other.
            let a = KVCache(config: Self.config), b = KVCache(config: Self.config)
            _ = w.forward(tokens.prefix(5).enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: a, wantsLogits: false) },
                          workspace: ws, pool: pool)
            let rows = [ForwardRow(token: tokens[5], position: 5, cache: a, wantsLogits: true)]
                + other.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: b, wantsLogits: $0.offset == other.count - 1) }
            let mixed = w.forward(rows, workspace: ws, pool: pool)
            assertClose(mixed, reference[5], "tied=\(tied) mixed batch, decode row")
            assertClose(mixed + v, otherReference[other.count - 1], "tied=\(tied) mixed batch, prompt row")
        }
    }
}
