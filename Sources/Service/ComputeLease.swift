// ComputeLease: who may use the compute pool now. The chat engine takes it for every batch step with
// priority; the learner takes it for short chunks (one block of one layer) and gives way to the engine
// while the engine has work (not only while it waits: between two steps it holds nothing but is not done),
// except that a learner kept waiting too long gets one chunk in, so a phase cannot starve under load.

import Foundation

/// Exclusive use of the cores, with priority for serving.
public final class ComputeLease: @unchecked Sendable {
    private let condition = NSCondition()
    private var held = false
    private var servingWaiting = 0
    private var servingBusy = false
    private var learnerWaitingSince: ContinuousClock.Instant?
    private var learnerTurn = false
    /// How long the learner may be kept waiting while chat keeps the cores busy.
    public let maxLearnerWait: Duration

    public init(maxLearnerWait: Duration = .milliseconds(250)) {
        self.maxLearnerWait = maxLearnerWait
    }

    /// Takes the lease for one engine step; waits while the learner runs a chunk.
    public func acquireForServing() {
        condition.lock()
        servingWaiting += 1
        if let since = learnerWaitingSince, ContinuousClock.now - since > maxLearnerWait {
            learnerTurn = true
            condition.broadcast()   // the waiting learner must see its turn
        }
        while held || learnerTurn { condition.wait() }
        servingWaiting -= 1
        held = true
        condition.unlock()
    }

    /// The engine has requests to run (true) or has none left (false); the learner holds back while it has.
    public func setServingBusy(_ busy: Bool) {
        condition.lock()
        servingBusy = busy
        if !busy { condition.broadcast() }
        condition.unlock()
    }

    /// Takes the lease for one learner chunk; waits while serving has work, unless it is the learner's turn.
    public func acquireForLearning() {
        condition.lock()
        learnerWaitingSince = learnerWaitingSince ?? .now
        while held || ((servingWaiting > 0 || servingBusy) && !learnerTurn) { condition.wait() }
        learnerWaitingSince = nil
        learnerTurn = false
        held = true
        condition.unlock()
    }

    public func release() {
        condition.lock()
        held = false
        condition.broadcast()
        condition.unlock()
    }

    /// For a learner holding the lease: lets serving in if it is waiting, then takes the lease back.
    public func yieldToServing() {
        release()
        acquireForLearning()
    }
}
