// JSONObject+Encoding: Codable values to and from the JSON objects the store keeps (phase settings,
// progress, metrics).

import ProximaCore

extension Dictionary where Key == String, Value == JSONValue {
    /// The JSON object form of an Encodable value whose JSON is an object.
    public init(encoding value: some Encodable) throws {
        guard case let .object(object) = try JSONValue(encoding: value) else { throw LearnerError.invalidSettings("expected a JSON object") }
        self = object
    }

    /// Decodes this object as `type`.
    public func decode<T: Decodable>(_ type: T.Type) throws -> T { try JSONValue.object(self).decode(as: type) }
}
