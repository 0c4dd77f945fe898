// Middleware: what wraps every route: request counting by status for /metrics, OpenAI-shaped errors for
// everything that goes wrong (404 and 405 included), and bearer-key authentication per route group.

import Hummingbird
import Metrics
import NIOCore

// MARK: - Request metrics

/// Counts requests by route and status (`proxima_requests_total`). Outermost, so it sees mapped errors.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = ProximaRequestContext
    let factory: any MetricsFactory

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let response = try await next(request, context)
        let route = context.endpointPath ?? "unmatched"
        Counter(label: "proxima_requests_total", dimensions: [("route", route), ("status", String(response.status.code))],
                factory: factory).increment()
        return response
    }
}

// MARK: - Errors

/// Turns every error into an OpenAI-shaped JSON response; an unknown path is a 404 and a known path with
/// another method a 405 (with Allow), both in the same shape.
struct APIErrorMiddleware: RouterMiddleware {
    typealias Context = ProximaRequestContext
    /// The methods of every route, by path.
    let routes: [String: [HTTPRequest.Method]]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as APIError {
            return error.response()
        } catch let error as HTTPError where error.status == .notFound && context.endpointPath == "NotFound" {
            let path = request.uri.path
            if let allowed = routes[path] {
                return APIError.methodNotAllowed(request.method, path: path, allowed: allowed).response()
            }
            return APIError.notFound("Unknown route \(request.method.rawValue) \(path).").response()
        } catch let error as any HTTPResponseError {
            let message = (error as? HTTPError)?.body ?? error.status.reasonPhrase
            return APIError(status: error.status, message: message,
                            type: error.status.code < 500 ? "invalid_request_error" : "server_error", code: nil).response()
        } catch {
            context.logger.error("unhandled error: \(error)")
            return APIError.server("Internal error; see the server log.").response()
        }
    }
}

// MARK: - Authentication

/// The configured bearer keys. With none, the server is open (and binds to loopback only).
public struct APIKeys: Sendable, Equatable {
    public var userKeys: [String]
    public var adminKeys: [String]

    public init(userKeys: [String] = [], adminKeys: [String] = []) {
        self.userKeys = userKeys
        self.adminKeys = adminKeys
    }

    /// Whether any key is configured.
    public var isEnabled: Bool { !userKeys.isEmpty || !adminKeys.isEmpty }

    /// The identity of `key`, or nil when it is not configured. Admin keys are valid on user routes too.
    /// Every configured key is compared, each in time that does not depend on where the bytes differ.
    func identity(of key: String) -> APIKeyIdentity? {
        var found: APIKeyIdentity?
        for (i, candidate) in adminKeys.enumerated() where Self.equalInConstantTime(candidate, key) && found == nil {
            found = APIKeyIdentity(role: .admin, id: "admin-\(i + 1)")
        }
        for (i, candidate) in userKeys.enumerated() where Self.equalInConstantTime(candidate, key) && found == nil {
            found = APIKeyIdentity(role: .user, id: "user-\(i + 1)")
        }
        return found
    }

    /// Whether `a` and `b` are the same bytes, reading all of both whatever they hold.
    static func equalInConstantTime(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        var difference = UInt8(truncatingIfNeeded: x.count ^ y.count) | (x.count == y.count ? 0 : 1)
        for i in 0..<max(x.count, y.count) {
            difference |= (i < x.count ? x[i] : 0) ^ (i < y.count ? y[i] : 0)
        }
        return difference == 0
    }
}

/// The `auth:` section of config/proxima.yaml (keys are secrets: never encoded).
extension APIKeys: Decodable {
    public enum Key: String, CodingKey, CaseIterable { case userKeys = "user_keys", adminKeys = "admin_keys" }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        self.init(userKeys: try c.decodeIfPresent([String].self, forKey: .userKeys) ?? [],
                  adminKeys: try c.decodeIfPresent([String].self, forKey: .adminKeys) ?? [])
    }
}

/// Requires a bearer key of at least `role` when keys are configured: 401 without a valid key, 403 for a
/// user key on an admin route.
struct AuthMiddleware: RouterMiddleware {
    typealias Context = ProximaRequestContext
    let keys: APIKeys
    let role: APIKeyIdentity.Role

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard keys.isEnabled else { return try await next(request, context) }
        guard let header = request.headers[.authorization] else {
            throw APIError.unauthorized("Missing API key: send 'Authorization: Bearer <key>'.")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer", let identity = keys.identity(of: String(parts[1])) else {
            throw APIError.unauthorized("Invalid API key.")
        }
        guard role == .user || identity.role == .admin else {
            throw APIError.forbidden("This route needs an admin key.")
        }
        var context = context
        context.apiKey = identity
        return try await next(request, context)
    }
}
