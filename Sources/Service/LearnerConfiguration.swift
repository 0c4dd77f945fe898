// LearnerConfiguration: what the learner runs with — its settings (the `learner:` section), the gate's
// held-out prompts as read, and the simulator that labels pairs nobody labelled.

import Learning
import ProximaCore

public struct LearnerConfiguration: Sendable {
    public var settings: LearnerSettings
    /// The held-out prompts the gate judges candidates on.
    public var gatePrompts: [String]
    /// Labels unlabelled pairs when set (otherwise only user feedback trains).
    public var labeller: (any PreferenceSimulator)?
    /// How long the learner waits before trying again after the store failed it.
    public var retryDelay: Duration = .seconds(5)

    public init(settings: LearnerSettings, gatePrompts: [String], labeller: (any PreferenceSimulator)?) {
        self.settings = settings
        self.gatePrompts = gatePrompts
        self.labeller = labeller
    }

    /// How often a phase starts on schedule when a new labelled pair waits (nil: no schedule).
    public var schedule: Duration? { settings.scheduleSeconds > 0 ? .seconds(settings.scheduleSeconds) : nil }
    /// The phase settings an operator's overrides apply to.
    public var phase: PhaseSettings { settings.phase }
}
