// PostgresURL: where the PostgreSQL store connects, from a libpq-style URL
// `postgres://user[:password]@host[:port]/database[?sslmode=disable&host=/unix/socket/dir]`.

import Foundation
import PostgresNIO

// MARK: - Connection URL

/// A parsed `postgres://` (or `postgresql://`) URL. TLS is not offered yet: `sslmode` may be absent or `disable`
/// (the database on loopback or a private network); anything else is refused rather than silently ignored.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// A directory holding the server's Unix socket (`?host=/run/postgresql`), used instead of TCP.
    public var socketDirectory: String?

    /// Whether `text` names a PostgreSQL database rather than an SQLite file.
    public static func isPostgres(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    public init(_ text: String) throws(PostgresURLError) {
        guard Self.isPostgres(text), let components = URLComponents(string: text) else {
            throw PostgresURLError("'\(Self.redacted(text))' is not a postgres:// URL (postgres://user@host:5432/database)")
        }
        guard let user = components.user, !user.isEmpty else {
            throw PostgresURLError("\(Self.redacted(text)): no user name (postgres://user@host/database)")
        }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty, !database.contains("/") else {
            throw PostgresURLError("\(Self.redacted(text)): no database name (postgres://user@host/database)")
        }
        var socketDirectory: String?
        for item in components.queryItems ?? [] {
            switch item.name {
            case "sslmode":
                guard item.value == "disable" else {
                    throw PostgresURLError("\(Self.redacted(text)): sslmode=\(item.value ?? "") is not supported; TLS connections are not offered yet (use sslmode=disable on a trusted network, or a Unix socket)")
                }
            case "host":
                guard let value = item.value, value.hasPrefix("/") else {
                    throw PostgresURLError("\(Self.redacted(text)): ?host= must be the directory of the server's Unix socket")
                }
                socketDirectory = value
            default:
                throw PostgresURLError("\(Self.redacted(text)): unknown parameter '\(item.name)' (known: sslmode, host)")
            }
        }
        guard socketDirectory != nil || !(components.host ?? "").isEmpty else {
            throw PostgresURLError("\(Self.redacted(text)): no host (postgres://user@host/database, or ?host=/socket/dir)")
        }
        host = components.host ?? ""
        port = components.port ?? 5432
        guard (1...65535).contains(port) else { throw PostgresURLError("\(Self.redacted(text)): port \(port) is out of range") }
        username = user.removingPercentEncoding ?? user
        password = components.password.map { $0.removingPercentEncoding ?? $0 }
        self.database = database.removingPercentEncoding ?? database
        self.socketDirectory = socketDirectory
    }

    /// The URL with its password replaced by `***`, for logs and errors.
    public var description: String {
        let credentials = password == nil ? username : "\(username):***"
        if let socketDirectory { return "postgres://\(credentials)@/\(database)?host=\(socketDirectory)" }
        return "postgres://\(credentials)@\(host):\(port)/\(database)"
    }

    /// The path of the server's Unix socket, when connecting through one.
    private var socketPath: String? {
        socketDirectory.map { ($0 as NSString).appendingPathComponent(".s.PGSQL.\(port)") }
    }

    /// The client (connection pool) configuration for this URL.
    public func clientConfiguration(maximumConnections: Int) -> PostgresClient.Configuration {
        var configuration = socketPath.map { PostgresClient.Configuration(unixSocketPath: $0, username: username, password: password, database: database) }
            ?? PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The configuration of one connection of its own (the start-up probe, LISTEN, the learner's lock).
    var connectionConfiguration: PostgresConnection.Configuration {
        var configuration = socketPath.map { PostgresConnection.Configuration(unixSocketPath: $0, username: username, password: password, database: database) }
            ?? PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: .disable)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// `text` with the password of a URL-looking string hidden.
    static func redacted(_ text: String) -> String {
        guard var components = URLComponents(string: text), components.password != nil else { return text }
        components.password = "***"
        return components.string ?? text
    }
}

/// A `postgres://` URL that cannot be used, saying why.
public struct PostgresURLError: Error, CustomStringConvertible, Equatable {
    public let description: String
    init(_ description: String) { self.description = description }
}
