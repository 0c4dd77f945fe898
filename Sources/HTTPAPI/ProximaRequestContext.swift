// ProximaRequestContext: what a request carries through the middleware to its handler: the caller's API key
// identity and the connection's close future (a client that goes away cancels its generation).

import Hummingbird
import NIOCore

/// The request context of every route.
public struct ProximaRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Completes when the client's connection closes.
    let connectionClosed: EventLoopFuture<Void>
    /// The API key the request authenticated with (nil when the server has no keys).
    var apiKey: APIKeyIdentity?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connectionClosed = source.channel.closeFuture
    }
}

/// Who called: a key's role and a stable, non-secret id logged with requests and feedback.
struct APIKeyIdentity: Sendable, Equatable {
    enum Role: Sendable { case user, admin }
    var role: Role
    /// "user-<n>" or "admin-<n>": the key's 1-based position in the configuration (never the key itself).
    var id: String
}
