// SeededGenerator: the reproducible random source of sampling, xoshiro256** seeded through SplitMix64.
// The same seed gives the same stream on every run and platform (pure integer arithmetic, no global state).

import ProximaNumerics

// MARK: - Generator

/// xoshiro256** (Blackman & Vigna, 2018) with its 256-bit state filled by SplitMix64 from a 64-bit seed.
public struct SeededGenerator: RandomNumberGenerator, Sendable, Equatable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// Creates the generator for `seed`; every seed (including 0) gives a valid, distinct stream.
    public init(seed: UInt64) {
        var splitMix = SplitMix64(seed: seed)
        state = (splitMix.next(), splitMix.next(), splitMix.next(), splitMix.next())
    }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        let result = rotateLeft(state.1 &* 5, by: 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotateLeft(state.3, by: 45)
        return result
    }

    /// A uniform number in [0, 1) from the top 53 bits of one draw: `Double(next() >> 11) / 2^53`.
    public mutating func nextUnitInterval() -> Double { Self.unitInterval(next()) }

    /// The [0, 1) value the sampler uses for 64 random bits, so any generator yields the same coins for the same bits.
    public static func unitInterval(_ bits: UInt64) -> Double { Double(bits >> 11) * 0x1p-53 }

    /// The generator's whole state, to save and restore it (a resumed run continues the same stream).
    public var words: [UInt64] {
        get { [state.0, state.1, state.2, state.3] }
        set { precondition(newValue.count == 4); state = (newValue[0], newValue[1], newValue[2], newValue[3]) }
    }

    public static func == (lhs: SeededGenerator, rhs: SeededGenerator) -> Bool {
        lhs.state == rhs.state
    }

    private func rotateLeft(_ x: UInt64, by k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}
