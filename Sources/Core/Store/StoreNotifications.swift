// StoreNotifications: the port that tells a process when something changed in a store it shares with others —
// the serving version (an activation, promotion or rollback made through another replica, a new candidate) or
// the learner's work (feedback, pairs or a queued phase stored by a replica). PostgreSQL implements it with
// LISTEN/NOTIFY; `InMemoryProximaStore` is the twin.

import Foundation

/// What a process can follow.
public enum StoreTopic: String, Sendable, CaseIterable {
    /// The serving version changed or a candidate was added.
    case servingVersion
    /// Feedback, a logged pair, imported pairs or a queued phase: something the learner may act on.
    case learnerWork
}

public protocol StoreNotifications: Sendable {
    /// Calls `onChange` once subscribed — and again after every reconnection, since changes made while
    /// disconnected are not replayed — and whenever `topic` changes; returns when the task is cancelled.
    /// `onChange` re-reads what it needs from the store.
    func follow(_ topic: StoreTopic, _ onChange: @escaping @Sendable () async -> Void) async
}
