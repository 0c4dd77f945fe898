// APIError: every error the API returns, in OpenAI's shape {"error": {"message", "type", "param", "code"}}
// with its HTTP status; module errors are mapped to these at the edge only.

import Foundation
import Hummingbird

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
    static func unauthorized(_ message: String) -> APIError {
        APIError(status: .unauthorized, message: message, type: "authentication_error", code: "invalid_api_key")
    }
    static func forbidden(_ message: String) -> APIError {
        APIError(status: .forbidden, message: message, type: "permission_error", code: "forbidden")
    }
    static func overloaded(retryAfter: Int) -> APIError {
        var e = APIError(status: .tooManyRequests, message: "The server is at capacity; retry after \(retryAfter) s.",
                         type: "server_overloaded", code: "rate_limit_exceeded")
        e.headers[.retryAfter] = String(retryAfter)
        return e
    }
    static func unavailable(_ message: String) -> APIError {
        var e = APIError(status: .serviceUnavailable, message: message, type: "server_error", code: "unavailable")
        e.headers[.retryAfter] = "5"
        return e
    }
    static func server(_ message: String) -> APIError {
        APIError(status: .internalServerError, message: message, type: "server_error", code: "internal_error")
    }

    private struct Body: Encodable {
        struct Inner: Encodable {
            var message: String
            var type: String
            var param: String?
            var code: String?
            func encode(to encoder: Encoder) throws {
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

    /// The JSON body.
    var body: ByteBuffer {
        let data = (try? JSONEncoder().encode(Body(error: .init(message: message, type: type, param: param, code: code)))) ?? Data()
        return ByteBuffer(bytes: data)
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        var fields = headers
        fields[.contentType] = "application/json"
        return Response(status: status, headers: fields, body: .init(byteBuffer: body))
    }
}
