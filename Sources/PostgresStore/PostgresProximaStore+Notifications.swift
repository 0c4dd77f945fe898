// PostgresProximaStore+Notifications: the store's changes through LISTEN/NOTIFY. Every change of the serving
// version, and every new candidate (whose files replicas fetch ahead), NOTIFYs `proxima_serving` in its
// transaction; stored feedback, a logged pair and a queued phase NOTIFY `proxima_learner`. Each follower LISTENs
// on a connection of its own, re-reads after every (re)connection — notifications sent while it was
// disconnected are lost — and reconnects with backoff when the connection drops.

import Foundation
import Logging
import PostgresNIO
import ProximaCore

// MARK: - Notifications

extension PostgresProximaStore: StoreNotifications {
    /// The channel each topic is announced on (`proxima_serving`'s payload: the version id).
    static func channel(_ topic: StoreTopic) -> String {
        switch topic {
        case .servingVersion: "proxima_serving"
        case .learnerWork: "proxima_learner"
        }
    }

    /// Announces `topic` to every listener when `db`'s transaction commits (never if it rolls back).
    static func notify(_ db: Transaction, _ topic: StoreTopic, payload: String = "") async throws {
        try await db.execute("SELECT pg_notify(\(channel(topic)), \(payload))")
    }

    public func follow(_ topic: StoreTopic, _ onChange: @escaping @Sendable () async -> Void) async {
        let what = topic == .servingVersion ? "serving-version changes" : "the learner's work"
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: try url.connectionConfiguration(), id: 1, logger: logger)
                await withTaskCancellationHandler {
                    do {
                        try await connection.listen(on: Self.channel(topic)) { notifications in
                            delay = .milliseconds(100)
                            await onChange()
                            for try await _ in notifications { await onChange() }
                        }
                    } catch where !Task.isCancelled {
                        logger.warning("lost the notifications of \(what) from \(url) (\(Self.reason(error))); reconnecting")
                    } catch {}
                } onCancel: {
                    connection.close().whenComplete { _ in }
                }
                try? await connection.close()
            } catch {
                logger.warning("cannot listen for \(what) at \(url) (\(Self.reason(error))); retrying in \(delay)")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}
