// ServingVersionFollower: keeps a process serving what its shared store names as serving — when another replica
// or the learner activates, promotes or rolls back a version, the store notifies (PostgreSQL's NOTIFY), and this
// service has the registry fetch, check and swap to it.

import Logging
import ProximaCore
import ServiceLifecycle

/// Runs with the server when the store can notify (PostgreSQL); stops at graceful shutdown.
public struct ServingVersionFollower: Service {
    let notifications: any ServingVersionNotifications
    let registry: PolicyRegistry
    let logger: Logger

    public init(notifications: any ServingVersionNotifications, registry: PolicyRegistry, logger: Logger) {
        self.notifications = notifications
        self.registry = registry
        self.logger = logger
    }

    public func run() async throws {
        let (registry, logger) = (self.registry, self.logger)
        try await cancelWhenGracefulShutdown {
            await notifications.followServingVersion {
                do {
                    try await registry.followStore()
                } catch {
                    let serving = await registry.activeID ?? "none"
                    logger.error("cannot serve the version the database names as serving: \(error); still serving \(serving)")
                }
            }
        }
    }
}
