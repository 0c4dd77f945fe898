// JSONBody: reads a JSON request body at the edge: content type (415), size limit (413), UTF-8 (400), then
// decoding, with every decoding failure turned into a 400 naming the field.

import Foundation
import Hummingbird
import NIOCore

enum JSONBody {
    /// Decodes the body of `request` as `T`. A missing Content-Type is taken as JSON; any other than
    /// application/json (or a +json type) is refused. An empty body is `empty` when given (optional bodies).
    static func decode<T: Decodable>(_ type: T.Type, from request: Request, limit: Int, empty: T? = nil) async throws -> T {
        if let contentType = request.headers[.contentType] {
            let media = contentType.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces).lowercased() } ?? ""
            guard media == "application/json" || (media.hasPrefix("application/") && media.hasSuffix("+json")) else {
                throw APIError.unsupportedMediaType(contentType)
            }
        }
        if let length = request.headers[.contentLength].flatMap(Int.init), length > limit {
            throw APIError.bodyTooLarge(limit: limit)
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: limit)
        } catch is NIOTooManyBytesError {
            throw APIError.bodyTooLarge(limit: limit)
        }
        let bytes = buffer.readableBytesView
        if let empty, bytes.allSatisfy({ [0x20, 0x09, 0x0A, 0x0D].contains($0) }) { return empty }
        guard String(validating: bytes, as: UTF8.self) != nil else {
            throw APIError.invalidRequest("The request body is not valid UTF-8.", code: "invalid_utf8")
        }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let error as DecodingError {
            throw APIError(decoding: error)
        }
    }
}

extension APIError {
    /// A 400 that says which field was wrong and how.
    init(decoding error: DecodingError) {
        func path(_ codingPath: [any CodingKey], _ key: (any CodingKey)? = nil) -> String {
            let keys = codingPath + (key.map { [$0] } ?? [])
            return keys.reduce("") { path, key in
                if let index = key.intValue { return path + "[\(index)]" }
                return path.isEmpty ? key.stringValue : path + "." + key.stringValue
            }
        }
        switch error {
        case let .keyNotFound(key, context):
            let field = path(context.codingPath, key)
            self = .invalidRequest("Missing required field '\(field)'.", param: field, code: "missing_field")
        case let .typeMismatch(_, context) where context.codingPath.isEmpty:
            self = .invalidRequest("The request body must be a JSON object.", code: "invalid_type")
        case let .typeMismatch(expected, context):
            let field = path(context.codingPath)
            self = .invalidRequest("Field '\(field)' has the wrong type (expected \(Self.jsonTypeName(expected))).",
                                   param: field, code: "invalid_type")
        case let .valueNotFound(expected, context):
            let field = path(context.codingPath)
            self = .invalidRequest("Field '\(field)' must not be null (expected \(Self.jsonTypeName(expected))).",
                                   param: field, code: "invalid_type")
        case let .dataCorrupted(context):
            if context.codingPath.isEmpty {
                self = .invalidRequest("The request body is not valid JSON.", code: "invalid_json")
            } else {
                let field = path(context.codingPath)
                // Our own decoders say why in a sentence that starts in lower case; Foundation's are kept out.
                let why = context.debugDescription.first?.isLowercase == true ? ": \(context.debugDescription)" : ""
                self = .invalidRequest("Field '\(field)' has an invalid value\(why).", param: field, code: "invalid_value")
            }
        @unknown default:
            self = .invalidRequest("The request body could not be decoded.", code: "invalid_json")
        }
    }

    private static func jsonTypeName(_ type: Any.Type) -> String {
        let name = "\(type)"
        if name.hasPrefix("Array<") { return "an array" }
        switch type {
        case is String.Type: return "a string"
        case is Bool.Type: return "a boolean"
        case is Int.Type, is Int64.Type, is UInt64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        default: return "an object"
        }
    }
}
