// PreferenceSimulator: the seam every automatic judge sits behind (rubric now, an LLM or remote judge later).
// A simulator compares two candidate responses to one prompt and returns a verdict: a, b or a tie.

// MARK: - Protocol

/// Something that judges which of two responses to a prompt is better, standing in for a human rater.
///
/// `judge` is `async throws` so that judges doing real work (a local model, a remote API) fit the same seam.
/// Randomness comes only from the caller's generator, so a seeded generator makes a run reproducible.
public protocol PreferenceSimulator: Sendable {
    /// A short, stable name recorded as the source of the labels this simulator produces.
    var name: String { get }

    /// Compares candidate `a` with candidate `b` as answers to `prompt`.
    func judge(prompt: String, a: Candidate, b: Candidate, rng: inout some RandomNumberGenerator) async throws -> Verdict
}

// MARK: - Values

/// One response to judge: its text and whether generation ended on end-of-turn / end-of-sequence
/// (`true`) rather than being cut at the token limit (`false`).
public struct Candidate: Sendable, Hashable, Codable {
    /// The response text, as shown to the user (no chat template around it).
    public var text: String
    /// Whether the response stopped on its own (end-of-turn or end-of-sequence token).
    public var finished: Bool

    /// Creates a candidate from its text and whether it finished.
    public init(text: String, finished: Bool) {
        self.text = text
        self.finished = finished
    }
}

/// The outcome of one judgement.
public struct Verdict: Sendable, Equatable {
    /// Which candidate won.
    public enum Choice: String, Sendable, Hashable, Codable {
        /// The first candidate is better.
        case a
        /// The second candidate is better.
        case b
        /// Neither is better: the pair carries no preference and is not used for training.
        case tie
    }

    /// The scores a scoring judge gave each candidate (higher is better).
    public struct Scores: Sendable, Equatable {
        /// Score of candidate `a`.
        public var a: Double
        /// Score of candidate `b`.
        public var b: Double

        /// Creates a pair of scores.
        public init(a: Double, b: Double) {
            self.a = a
            self.b = b
        }
    }

    /// Which candidate won, or a tie.
    public var choice: Choice
    /// The scores behind the choice, when the judge produces scores; `nil` for judges that only compare.
    public var scores: Scores?

    /// Creates a verdict.
    public init(choice: Choice, scores: Scores? = nil) {
        self.choice = choice
        self.scores = scores
    }
}

// MARK: - Errors

/// Errors from configuring or running a preference simulator.
public enum SimulatorError: Error, Equatable, CustomStringConvertible {
    /// The Bradley–Terry temperature τ was negative, infinite or not a number.
    case invalidTau(Double)

    /// What went wrong.
    public var message: String {
        switch self {
        case .invalidTau(let tau): "invalid Bradley–Terry temperature tau = \(tau)"
        }
    }

    /// How to fix it.
    public var hint: String {
        switch self {
        case .invalidTau: "use tau = 0 for a deterministic judge (higher score wins) or a finite tau > 0 for noisy labels"
        }
    }

    public var description: String { "\(message) (hint: \(hint))" }
}
