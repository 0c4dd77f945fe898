// LearnerTypes: what the learner's parts share — why a phase did not run or finish (LearnerError), what a finished
// phase stores as its metrics, and durations in seconds for its reports.

import Learning

/// What a finished phase stores as its metrics.
struct PhaseMetrics: Codable {
    var steps: [StepReport]
    var gate: EvaluationResult
    var pairs: Int
    var seconds: Double
}

public enum LearnerError: Error, CustomStringConvertible {
    case invalidSettings(String)
    case noPairs
    case interrupted
    /// An operator cancelled the phase during `stage`.
    case cancelled(stage: String)
    /// The running phase belongs to another process (the learner on a shared database): cancel it there.
    case runsElsewhere(phaseID: Int64)
    /// This process stopped being the learner during the phase (its lock's session ended): nothing is published.
    case notTheLearner

    public var description: String {
        switch self {
        case let .invalidSettings(p): return "invalid phase settings: \(p)"
        case .noPairs: return "no usable labelled pairs"
        case .interrupted: return "interrupted by shutdown"
        case let .cancelled(stage): return "cancelled by an operator while \(stage)"
        case .notTheLearner: return "this process stopped being the learner during the phase (its database session ended); nothing was published"
        case let .runsElsewhere(id): return "phase \(id) runs in another process (the database's learner): cancel it through that process's admin API"
        }
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) * 1e-18 }
}
