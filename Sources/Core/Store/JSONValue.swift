// JSONValue: the JSON documents the store keeps as text columns (phase config, progress, metrics), as a
// Sendable value so records stay plain and comparable; helpers convert from and to any Codable type.

import Foundation

// MARK: - JSON value

/// A JSON document: what the store keeps in its JSON text columns.
public enum JSONValue: Sendable, Hashable, Codable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([JSONValue].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: JSONValue].self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .null: try container.encodeNil()
        case .bool(let value): try container.encode(value)
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        }
    }
}

/// A JSON object: the shape of every JSON column the store keeps (config, progress, metrics).
public typealias JSONObject = [String: JSONValue]

// MARK: - Literals

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByFloatLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(floatLiteral value: Double) { self = .number(value) }
    public init(integerLiteral value: Int) { self = .number(Double(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, last in last }))
    }
    public init(nilLiteral: ()) { self = .null }
}

// MARK: - Codable bridges

extension JSONValue {
    /// The JSON form of any Encodable value (e.g. a learner's phase configuration struct).
    public init(encoding value: some Encodable) throws {
        self = try JSONDecoder().decode(JSONValue.self, from: JSONEncoder().encode(value))
    }

    /// Decodes this JSON into a Decodable type (e.g. back into the learner's configuration struct).
    public func decode<T: Decodable>(as type: T.Type) throws -> T {
        try JSONDecoder().decode(type, from: JSONEncoder().encode(self))
    }
}

extension Dictionary where Key == String, Value == JSONValue {
    /// The JSON object form of an Encodable value whose JSON is an object (phase settings, progress, metrics).
    public init(encoding value: some Encodable) throws {
        guard case let .object(object) = try JSONValue(encoding: value) else {
            throw EncodingError.invalidValue(value, .init(codingPath: [], debugDescription: "the value's JSON is not an object"))
        }
        self = object
    }

    /// Decodes this object as `type`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONValue.object(self).decode(as: type) }
}

// MARK: - Text form (used by the SQLite columns)

package enum JSONText {
    /// Sorted keys, so equal values give equal text (the feedback duplicate check compares content).
    package static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    package static func decode<T: Decodable>(_ type: T.Type, from text: String, column: String) throws -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(text.utf8))
        } catch {
            throw StoreError.corruptRow(table: column, detail: "the JSON does not decode as \(type): \(error)")
        }
    }
}
