// ServingVersionNotifications: the port that tells a process when the serving version may have changed in a
// store it shares with others (an activation, promotion or rollback made through another replica). PostgreSQL
// implements it with LISTEN/NOTIFY; `InMemoryProximaStore` is the twin.

import Foundation

public protocol ServingVersionNotifications: Sendable {
    /// Calls `onChange` once subscribed — and again after every reconnection, since changes made while
    /// disconnected are not replayed — and whenever the serving version changes or a candidate is added;
    /// returns when the task is cancelled. `onChange` re-reads the versions from the store.
    func followServingVersion(_ onChange: @escaping @Sendable () async -> Void) async
}
