// StoreFollower: acts on what other processes change in a shared store. When another replica or the learner
// activates, promotes or rolls back a version, the store notifies (PostgreSQL's NOTIFY) and the serving follower
// has the registry fetch, check and swap to it; when a replica stores feedback, a pair or a queued phase, the
// learner's follower rings the learner's doorbell.

import Logging
import ProximaCore
import ServiceLifecycle

/// Runs with the server when the store can notify (PostgreSQL); stops at graceful shutdown.
public struct StoreFollower: Service {
    let notifications: any StoreNotifications
    let topic: StoreTopic
    let onChange: @Sendable () async -> Void

    public init(notifications: any StoreNotifications, topic: StoreTopic, onChange: @escaping @Sendable () async -> Void) {
        self.notifications = notifications
        self.topic = topic
        self.onChange = onChange
    }

    /// Keeps `registry` serving the version the store names as serving.
    public static func servingVersion(_ notifications: any StoreNotifications, registry: PolicyRegistry, logger: Logger) -> StoreFollower {
        StoreFollower(notifications: notifications, topic: .servingVersion) {
            do {
                try await registry.followStore()
            } catch {
                let serving = await registry.activeID ?? "none"
                logger.error("cannot serve the version the database names as serving: \(error); still serving \(serving)")
            }
        }
    }

    /// Rings `doorbell` whenever any process stores work for the learner.
    public static func learnerWork(_ notifications: any StoreNotifications, doorbell: Doorbell) -> StoreFollower {
        StoreFollower(notifications: notifications, topic: .learnerWork) { doorbell.ring() }
    }

    public func run() async throws {
        let (notifications, topic, onChange) = (self.notifications, self.topic, self.onChange)
        await cancelWhenGracefulShutdown {
            await notifications.follow(topic, onChange)
        }
    }
}
