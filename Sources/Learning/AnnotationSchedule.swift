// AnnotationSchedule: the BPO paper's annotation frequency F. Over T training steps the preference data is
// collected F times, each time from the policy of that moment: the steps fall into F consecutive blocks, and
// every step of a block trains on pairs sampled by the policy as it was when the block began. F = 1 is
// offline (every pair from the initial policy), F = T on-policy (each step samples from the current one).
// Pure: the experiment asks it which steps resample.

public struct AnnotationSchedule: Sendable, Equatable {
    public let steps: Int
    public let frequency: Int

    /// Nil (with the reason in `problem(steps:frequency:)`) unless 1 ≤ F ≤ T.
    public init?(steps: Int, frequency: Int) {
        guard Self.problem(steps: steps, frequency: frequency) == nil else { return nil }
        self.steps = steps
        self.frequency = frequency
    }

    public static func problem(steps: Int, frequency: Int) -> String? {
        if steps < 1 { return "steps must be at least 1 (got \(steps))" }
        if !(1...steps).contains(frequency) { return "the annotation frequency must be in 1...\(steps), the steps (got \(frequency))" }
        return nil
    }

    /// The block of step `s` (1-based), 0 ..< F: ⌊(s − 1)·F / T⌋, so there are exactly F blocks, of T/F steps
    /// each when F divides T and otherwise of ⌊T/F⌋ or ⌈T/F⌉ steps.
    public func block(of s: Int) -> Int {
        precondition((1...steps).contains(s), "step \(s) outside 1...\(steps)")
        return (s - 1) * frequency / steps
    }

    /// Whether step `s` starts a block: the policy as it is before step `s` trains samples the block's pairs.
    public func annotates(at s: Int) -> Bool { s == 1 || block(of: s) != block(of: s - 1) }

    /// The step whose starting policy sampled the pairs step `s` trains on (the first step of its block).
    public func behaviorStep(of s: Int) -> Int {
        var first = s
        while !annotates(at: first) { first -= 1 }
        return first
    }
}
