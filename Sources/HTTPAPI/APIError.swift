// APIError: every error the API returns, in OpenAI's shape {"error": {"message", "type", "param", "code"}}
// with its HTTP status; the service layer's typed errors are mapped to these here, at the edge only.

import Foundation
import Hummingbird
import Service

// MARK: - Error response

/// An error response. `type` follows OpenAI's names (invalid_request_error, authentication_error, …).
struct APIError: Error, HTTPResponseError {
    var status: HTTPResponse.Status
    var message: String
    var type: String
    var param: String?
    var code: String?
    var headers: HTTPFields = [:]

    static func invalidRequest(_ message: String, param: String? = nil, code: String? = nil) -> APIError {
        APIError(status: .badRequest, message: message, type: "invalid_request_error", param: param, code: code)
    }
    static func notFound(_ message: String, param: String? = nil) -> APIError {
        APIError(status: .notFound, message: message, type: "invalid_request_error", param: param, code: "not_found")
    }
    static func methodNotAllowed(_ method: HTTPRequest.Method, path: String, allowed: [HTTPRequest.Method]) -> APIError {
        var error = APIError(status: .methodNotAllowed, message: "\(method.rawValue) is not allowed on \(path); use \(allowed.map(\.rawValue).joined(separator: ", ")).",
                             type: "invalid_request_error", code: "method_not_allowed")
        error.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
        return error
    }
    static func unsupportedMediaType(_ contentType: String) -> APIError {
        APIError(status: .unsupportedMediaType, message: "Content-Type '\(contentType)' is not supported; send application/json.",
                 type: "invalid_request_error", code: "unsupported_media_type")
    }
    static func bodyTooLarge(limit: Int) -> APIError {
        APIError(status: .contentTooLarge, message: "The request body is larger than this server's limit of \(limit) bytes.",
                 type: "invalid_request_error", code: "request_too_large")
    }
    static func unauthorized(_ message: String) -> APIError {
        var error = APIError(status: .unauthorized, message: message, type: "authentication_error", code: "invalid_api_key")
        error.headers[.wwwAuthenticate] = "Bearer"
        return error
    }
    static func forbidden(_ message: String) -> APIError {
        APIError(status: .forbidden, message: message, type: "permission_error", code: "insufficient_permissions")
    }
    static func conflict(_ message: String, param: String? = nil) -> APIError {
        APIError(status: .conflict, message: message, type: "invalid_request_error", param: param, code: "conflict")
    }
    static func overloaded(retryAfter: Int) -> APIError {
        var error = APIError(status: .tooManyRequests, message: "The server is at capacity; retry after \(retryAfter) s.",
                             type: "server_overloaded", code: "rate_limit_exceeded")
        error.headers[.retryAfter] = String(retryAfter)
        return error
    }
    static func unavailable(_ message: String, retryAfter: Int = 5) -> APIError {
        var error = APIError(status: .serviceUnavailable, message: message, type: "server_error", code: "unavailable")
        error.headers[.retryAfter] = String(retryAfter)
        return error
    }
    static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }

    // MARK: Body

    private struct Body: Encodable {
        struct Inner: Encodable {
            var message: String
            var type: String
            var param: String?
            var code: String?
            // Explicit so that absent param and code are written as null, as OpenAI does.
            func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(message, forKey: .message)
                try c.encode(type, forKey: .type)
                try c.encode(param, forKey: .param)
                try c.encode(code, forKey: .code)
            }
            enum CodingKeys: String, CodingKey { case message, type, param, code }
        }
        var error: Inner
    }

    /// The JSON body (also sent as an SSE `data:` line when a stream fails after its headers went out).
    var json: Data {
        (try? JSONEncoder().encode(Body(error: .init(message: message, type: type, param: param, code: code)))) ?? Data()
    }

    func response(from request: Request, context: some RequestContext) throws -> Response { response() }

    func response() -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}

// MARK: - Mapping the service layer's errors

extension APIError {
    init(_ error: ChatError) {
        switch error {
        case let .invalidParameter(name, _):
            self = .invalidRequest(error.description, param: name)
        case .contextLengthExceeded:
            self = .invalidRequest(error.description, param: "messages", code: "context_length_exceeded")
        case let .overloaded(seconds):
            self = .overloaded(retryAfter: seconds)
        case .shuttingDown:
            self = .unavailable(error.description)
        case .notServing:
            self = APIError(status: .misdirectedRequest, message: error.description, type: "invalid_request_error", code: "not_serving")
        case .cancelled:
            self = APIError(status: HTTPResponse.Status(code: 499, reasonPhrase: "Client Closed Request"),
                            message: error.description, type: "invalid_request_error", code: "cancelled")
        case .generationFailed:
            self = .server(error.description)
        case .loggingFailed:
            // Nothing was acknowledged (a response is returned only once logged): the client may simply retry.
            self = .unavailable(error.description)
        }
    }

    init(_ error: FeedbackError) {
        switch error {
        case let .invalidParameter(name, _): self = .invalidRequest(error.description, param: name)
        case .unknownResponse: self = .notFound(error.description, param: "response_id")
        case .unknownPair: self = .notFound(error.description, param: "pair_id")
        case .unknownClientRef: self = .notFound(error.description, param: "client_ref")
        case .conflict: self = .conflict(error.description, param: "event_id")
        case .notYours: self = .forbidden(error.description)
        case .hiddenSample: self = .invalidRequest(error.description, param: "pair_id", code: "hidden_sample")
        case .storage: self = .unavailable(error.description)   // not stored, not acknowledged: retry (same event_id)
        }
    }
}
