// PostgresProximaStore+Notifications: the serving version's changes through LISTEN/NOTIFY. Every change of the
// serving version, and every new candidate (whose files replicas fetch ahead), NOTIFYs `proxima_serving` in
// its transaction; each process LISTENs on a connection of its
// own, re-reads after every (re)connection — notifications sent while it was disconnected are lost — and
// reconnects with backoff when the connection drops.

import Foundation
import Logging
import PostgresNIO
import ProximaCore

// MARK: - Serving-version notifications

extension PostgresProximaStore: ServingVersionNotifications {
    /// The channel a change of the serving version or a new candidate is announced on (payload: the version id).
    static let servingChannel = "proxima_serving"

    public func followServingVersion(_ onChange: @escaping @Sendable () async -> Void) async {
        var delay = Duration.milliseconds(100)
        while !Task.isCancelled {
            do {
                let connection = try await PostgresConnection.connect(configuration: url.connectionConfiguration, id: 1, logger: logger)
                await withTaskCancellationHandler {
                    do {
                        try await connection.listen(on: Self.servingChannel) { notifications in
                            delay = .milliseconds(100)
                            await onChange()
                            for try await _ in notifications { await onChange() }
                        }
                    } catch where !Task.isCancelled {
                        logger.warning("lost the serving-version notifications from \(url) (\(Self.reason(error))); reconnecting")
                    } catch {}
                } onCancel: {
                    connection.close().whenComplete { _ in }
                }
                try? await connection.close()
            } catch {
                logger.warning("cannot listen for serving-version changes at \(url) (\(Self.reason(error))); retrying in \(delay)")
            }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(5))
        }
    }
}
