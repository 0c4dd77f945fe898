// LearnerConfiguration: when phases start, how they train by default, how candidates are gated, and whether
// a preference simulator labels pairs that users left unlabelled.

import Learning
import ProximaCore

public struct LearnerConfiguration: Sendable {
    /// Whether phases start on their own (operators can always start one).
    public var automatic = true
    /// A phase starts once this many new labelled pairs wait (0: never on count).
    public var triggerPairs = 64
    /// A phase also starts this often when at least one new labelled pair waits (nil: no schedule).
    public var schedule: Duration?
    /// At most this many pairs (oldest verdicts first) per phase.
    public var maxPairsPerPhase = 1024
    /// The defaults of every phase; an operator request may override them.
    public var phase = PhaseSettings()
    /// A candidate is promoted when its win rate against the serving version reaches this.
    public var gateThreshold = 0.5
    /// Held-out prompts for the gate (the repository's dev set), and the reply length there.
    public var gatePrompts: [String] = []
    public var gateMaxTokens = 96
    /// Labels unlabelled pairs when set (otherwise only user feedback trains).
    public var labeller: (any PreferenceSimulator)?
    /// Learned versions whose files are kept (older ones stay in the lineage without files; 0 keeps all).
    public var keepVersions = 10
    /// How long the learner waits before trying again after the store failed it.
    public var retryDelay: Duration = .seconds(5)

    public init() {}
}
