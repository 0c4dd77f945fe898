// RubricSimulator: the rubric preference simulator v1, a Swift port of ../shared/data/rubric/rubric_v1.py.
// It scores a response with five cheap rules and prefers the higher score, optionally through Bradley–Terry noise.

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

import ProximaCore

// MARK: - Simulator

/// The "concise-helpful" rubric judge v1: deterministic, cheap, and score-for-score equal to `rubric_v1.py`.
///
/// `score` adds up, in the spec's order:
/// 1. +1 if the response finished (stopped on end-of-turn / end-of-sequence, not truncated);
/// 2. a length band of 15–60 words: −(15 − n)/15 below, −min(1, (n − 60)/60) above;
/// 3. −1.5 × the share of repeated word 3-grams;
/// 4. +0.5 × the share of the prompt's content words (≥ 4 characters, not stopwords) the response uses;
/// 5. −1 if the response leaks a ChatML marker or starts a line with a chat role ("user:", "assistant:", "human:").
///
/// Words are the `[a-z0-9']+` runs of the lower-cased text; the result is rounded to 6 decimals exactly as
/// Python's `round(x, 6)` does, so equal scores (ties) agree with the spec too.
public struct RubricSimulator: PreferenceSimulator {
    /// The Bradley–Terry temperature τ: 0 means the higher score wins and equal scores tie; τ > 0 means `a` wins
    /// with probability σ((s_a − s_b)/τ), drawn with one uniform number from the caller's generator.
    public let tau: Double

    /// Creates a rubric judge; `tau` must be 0 or a finite positive number.
    public init(tau: Double = 0) throws(SimulatorError) {
        guard tau.isFinite, tau >= 0 else { throw .invalidTau(tau) }
        self.tau = tau
    }

    /// "rubric-v1", with the temperature appended when labels are noisy (for example "rubric-v1-tau0.5").
    public var name: String { tau > 0 ? "rubric-v1-tau\(tau)" : "rubric-v1" }

    // MARK: - Judging

    /// Judges through `prefer(prompt:a:b:coin:)`, drawing the coin from `rng` only when τ > 0 (as the spec's
    /// `prefer` calls `rng.random()` only then). Never throws.
    public func judge(prompt: String, a: Candidate, b: Candidate, rng: inout some RandomNumberGenerator) async throws -> Verdict {
        prefer(prompt: prompt, a: a, b: b, rng: &rng)
    }

    /// The spec's `prefer(prompt, a, b, rng, tau)`: draws one uniform number from `rng` when τ > 0, none when τ = 0.
    ///
    /// The uniform is `Double(rng.next() >> 11) / 2^53`, in [0, 1) like Python's `random.random()`. The
    /// decision rule is the spec's, but Swift generators do not reproduce Python's Mersenne Twister stream, so
    /// noisy labels agree with the Python reference in distribution, not draw for draw.
    public func prefer(prompt: String, a: Candidate, b: Candidate, rng: inout some RandomNumberGenerator) -> Verdict {
        let coin = tau > 0 ? Double(rng.next() >> 11) * 0x1p-53 : 0
        return prefer(prompt: prompt, a: a, b: b, coin: coin)
    }

    /// The decision as a pure function of a uniform `coin` in [0, 1) (ignored when τ = 0).
    ///
    /// τ = 0: the higher score wins, equal scores tie. τ > 0: `a` wins when `coin < 1 / (1 + exp(−(s_a − s_b)/τ))`,
    /// otherwise `b`; there are no ties. Where Python's `math.exp` would overflow (a huge score gap over a tiny τ)
    /// the probability saturates at 0 here, which is the limit the spec intends.
    public func prefer(prompt: String, a: Candidate, b: Candidate, coin: Double) -> Verdict {
        let scores = Verdict.Scores(
            a: Self.score(prompt: prompt, response: a.text, finished: a.finished),
            b: Self.score(prompt: prompt, response: b.text, finished: b.finished))
        if tau > 0 {
            let probabilityA = 1.0 / (1.0 + exp(-(scores.a - scores.b) / tau))
            return Verdict(choice: coin < probabilityA ? .a : .b, scores: scores)
        }
        if scores.a == scores.b { return Verdict(choice: .tie, scores: scores) }
        return Verdict(choice: scores.a > scores.b ? .a : .b, scores: scores)
    }

    // MARK: - Score

    /// The spec's `score(prompt, response, finished)`, higher is better, rounded to 6 decimals like Python.
    public static func score(prompt: String, response: String, finished: Bool) -> Double {
        let words = RubricText.words(response)
        let n = words.count
        var s = 0.0
        s += finished ? 1.0 : 0.0
        if n < 15 {
            s -= min(1.0, Double(15 - n) / 15.0)
        } else if n > 60 {
            s -= min(1.0, Double(n - 60) / 60.0)
        }
        if n >= 3 {
            let trigrams = (0..<(n - 2)).map { "\(words[$0]) \(words[$0 + 1]) \(words[$0 + 2])" }
            s -= 1.5 * (1.0 - Double(Set(trigrams).count) / Double(trigrams.count))
        }
        let contentWords = RubricText.contentWords(prompt)
        if !contentWords.isEmpty {
            s += 0.5 * Double(contentWords.intersection(words).count) / Double(contentWords.count)
        }
        if RubricText.leaksRoleOrMarker(response) { s -= 1.0 }
        return roundedLikePython(s, decimals: 6)
    }
}

// MARK: - Python's round

/// Python's `round(x, decimals)` for a float: the double nearest to the exact decimal value of `x` rounded to
/// `decimals` places, halves to even. Exact (no `x * 10^d` rounding step), so ties such as 1.0078125 → 1.007812
/// come out as in Python. Domain: |x| < 2^33 and 0 ≤ decimals ≤ 6, which covers every rubric score.
func roundedLikePython(_ x: Double, decimals: Int) -> Double {
    precondition((0...6).contains(decimals) && x.magnitude < 0x1p33, "roundedLikePython: outside its exact domain")
    var scale: UInt64 = 1
    for _ in 0..<decimals { scale *= 10 }
    // Well below half a unit of the last place the result is a (signed) zero, as in Python.
    if x.magnitude * Double(scale) < 0.25 { return x.sign == .minus ? -0.0 : 0.0 }
    // |x| = significand · 2^-shift exactly, with a 53-bit integer significand; x is normal and < 2^33 here,
    // so 20 ≤ shift ≤ 55 and significand · 10^decimals < 2^73.
    let significand = UInt128((1 as UInt64) << 52 | x.significandBitPattern)
    let shift = 52 - Int(x.exponent)
    let scaled = significand * UInt128(scale)
    var quotient = scaled >> shift
    let remainder = scaled - (quotient << shift)
    let half = UInt128(1) << (shift - 1)
    if remainder > half || (remainder == half && quotient & 1 == 1) { quotient += 1 }
    let magnitude = Double(UInt64(quotient)) / Double(scale)
    return x.sign == .minus ? -magnitude : magnitude
}
