// PostgresURL: where the PostgreSQL store connects, from a libpq-style URL
// `postgres://user[:password]@host[:port]/database[?sslmode=…&sslrootcert=FILE&host=/unix/socket/dir]`, and the
// TLS it asks for (libpq's sslmode: disable, prefer — the default —, require, verify-ca, verify-full).

import Foundation
import PostgresNIO

// MARK: - Connection URL

/// libpq's `sslmode`s that postgres-nio can honour (`allow` — plain first, TLS if refused — it cannot).
public enum PostgresSSLMode: String, Sendable, CaseIterable {
    /// Plain TCP.
    case disable
    /// TLS when the server offers it, plain otherwise; the certificate is not checked (libpq's default).
    case prefer
    /// TLS or no connection; the certificate is not checked (unless `sslrootcert` is given: then as verify-ca).
    case require
    /// TLS, with the server's certificate signed by a trusted root (`sslrootcert`, else the system's roots).
    case verifyCA = "verify-ca"
    /// As verify-ca, and the certificate names the host connected to.
    case verifyFull = "verify-full"
}

/// A parsed `postgres://` (or `postgresql://`) URL.
public struct PostgresURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    /// A directory holding the server's Unix socket (`?host=/run/postgresql`), used instead of TCP.
    public var socketDirectory: String?
    public var sslMode = PostgresSSLMode.prefer
    /// The trusted roots' PEM file (`sslrootcert`); nil: the system's.
    public var rootCertificate: String?

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
                guard let mode = item.value.flatMap(PostgresSSLMode.init(rawValue:)) else {
                    throw PostgresURLError("\(Self.redacted(text)): sslmode=\(item.value ?? "") is not supported (known: "
                                           + PostgresSSLMode.allCases.map(\.rawValue).joined(separator: ", ") + ")")
                }
                sslMode = mode
            case "sslrootcert":
                guard let value = item.value, !value.isEmpty else {
                    throw PostgresURLError("\(Self.redacted(text)): sslrootcert= must name a PEM file of trusted certificates")
                }
                rootCertificate = value
            case "host":
                guard let value = item.value, value.hasPrefix("/") else {
                    throw PostgresURLError("\(Self.redacted(text)): ?host= must be the directory of the server's Unix socket")
                }
                socketDirectory = value
            default:
                throw PostgresURLError("\(Self.redacted(text)): unknown parameter '\(item.name)' (known: sslmode, sslrootcert, host)")
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
        if let rootCertificate, !FileManager.default.isReadableFile(atPath: rootCertificate) {
            throw PostgresURLError("\(Self.redacted(text)): sslrootcert \(rootCertificate) cannot be read")
        }
        if sslMode == .require && rootCertificate != nil { sslMode = .verifyCA }   // as libpq does
    }

    /// TLS as `sslMode` and `rootCertificate` ask (the certificate checks, the trusted roots).
    var tlsConfiguration: TLSConfiguration {
        var tls = TLSConfiguration.makeClientConfiguration()
        switch sslMode {
        case .disable, .prefer, .require: tls.certificateVerification = .none
        case .verifyCA: tls.certificateVerification = .noHostnameVerification
        case .verifyFull: tls.certificateVerification = .fullVerification
        }
        if let rootCertificate { tls.trustRoots = .file(rootCertificate) }
        return tls
    }

    /// The pool's TLS setting.
    private var clientTLS: PostgresClient.Configuration.TLS {
        switch sslMode {
        case .disable: .disable
        case .prefer: .prefer(tlsConfiguration)
        case .require, .verifyCA, .verifyFull: .require(tlsConfiguration)
        }
    }

    /// A single connection's TLS setting; throws when the trusted roots do not load.
    private func connectionTLS() throws -> PostgresConnection.Configuration.TLS {
        if sslMode == .disable { return .disable }
        let context = try NIOSSLContext(configuration: tlsConfiguration)
        return sslMode == .prefer ? .prefer(context) : .require(context)
    }

    /// The URL with its password replaced by `***`, for logs and errors.
    public var description: String {
        let credentials = password == nil ? username : "\(username):***"
        if let socketDirectory { return "postgres://\(credentials)@/\(database)?host=\(socketDirectory)" }
        return "postgres://\(credentials)@\(host):\(port)/\(database)" + (sslMode == .prefer ? "" : "?sslmode=\(sslMode.rawValue)")
    }

    /// The path of the server's Unix socket, when connecting through one.
    private var socketPath: String? {
        socketDirectory.map { ($0 as NSString).appendingPathComponent(".s.PGSQL.\(port)") }
    }

    /// The client (connection pool) configuration for this URL.
    public func clientConfiguration(maximumConnections: Int) -> PostgresClient.Configuration {
        var configuration = socketPath.map { PostgresClient.Configuration(unixSocketPath: $0, username: username, password: password, database: database) }
            ?? PostgresClient.Configuration(host: host, port: port, username: username, password: password, database: database, tls: clientTLS)
        configuration.options.maximumConnections = maximumConnections
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The configuration of one connection of its own (the start-up probe, LISTEN, the learner's lock).
    func connectionConfiguration() throws -> PostgresConnection.Configuration {
        var configuration = try socketPath.map { PostgresConnection.Configuration(unixSocketPath: $0, username: username, password: password, database: database) }
            ?? PostgresConnection.Configuration(host: host, port: port, username: username, password: password, database: database, tls: connectionTLS())
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
