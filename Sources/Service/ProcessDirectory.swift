// ProcessDirectory: this process's heartbeat in a shared store, and the list of the processes serving from it
// (`GET /admin/replicas`): each records its role, address, the version it serves and whether it is the learner
// every `interval`; a process not seen for three intervals is not listed. Alone on its store (SQLite) a
// process lists only itself.

import Foundation
import Logging
import Metrics
import ProximaCore
import ServiceLifecycle
import Synchronization

public final class ProcessDirectory: Service, Sendable {
    /// What the heartbeat reports that changes while the process runs.
    public struct Status: Sendable {
        public var servingVersion: String?
        public var isLearner: Bool
        public init(servingVersion: String?, isLearner: Bool) { self.servingVersion = servingVersion; self.isLearner = isLearner }
    }

    let heartbeats: (any ProcessHeartbeats)?
    let role: ServeRole
    let status: @Sendable () async -> Status
    let interval: Duration
    let clock: any WallClock
    let logger: Logger
    let id = UUID().uuidString.lowercased()
    let startedAt: Date
    private let address = Mutex<String>("")
    private let learnerGauge: Gauge

    public init(heartbeats: (any ProcessHeartbeats)?, role: ServeRole, interval: Duration = .seconds(5), clock: any WallClock = SystemWallClock(),
                logger: Logger, metricsFactory: any MetricsFactory, status: @escaping @Sendable () async -> Status) {
        self.heartbeats = heartbeats
        self.role = role
        self.interval = interval
        self.clock = clock
        self.logger = logger
        self.status = status
        self.startedAt = clock.now()
        learnerGauge = Gauge(label: "proxima_learner_active", factory: metricsFactory)
    }

    /// Where this process serves HTTP, once bound (`http://host:port`).
    public func setAddress(_ value: String) { address.withLock { $0 = value } }

    /// This process as its next heartbeat describes it.
    public func current() async -> ProcessRecord {
        let status = await self.status()
        return ProcessRecord(id: id, role: role.rawValue, hostname: ProcessInfo.processInfo.hostName, pid: ProcessInfo.processInfo.processIdentifier,
                             address: address.withLock { $0 }, servingVersion: status.servingVersion, isLearner: status.isLearner,
                             startedAt: startedAt, lastSeen: clock.now())
    }

    /// The processes seen within three heartbeats, this one included, most recently started first.
    public func list() async throws -> [ProcessRecord] {
        let me = await current()
        guard let heartbeats else { return [me] }
        let seen = try await heartbeats.heartbeats(seenSince: clock.now().addingTimeInterval(-3 * interval.seconds))
        return seen.contains { $0.id == id } ? seen : [me] + seen
    }

    public func run() async throws {
        await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let me = await self.current()
                self.learnerGauge.record(me.isLearner ? 1 : 0)
                if let heartbeats = self.heartbeats {
                    do {
                        try await heartbeats.recordHeartbeat(me, forgetBefore: me.lastSeen.addingTimeInterval(-86_400))
                    } catch {
                        self.logger.warning("cannot record this process's heartbeat: \(error)")
                    }
                }
                try? await Task.sleep(for: self.interval)
            }
        }
        try? await heartbeats?.removeHeartbeat(id: id)
    }
}
