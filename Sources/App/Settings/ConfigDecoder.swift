// ConfigDecoder: decodes any Decodable settings type from swift-configuration's merged view of flags, PROXIMA_*
// environment variables and the YAML file. A type's coding keys are its configuration keys (a nested type is a
// section: `learner.steps`); absent keys keep the type's own defaults (its `decodeIfPresent ?? default`), so
// each default is written once, in the type. A value of the wrong type is an error naming the key and its
// environment variable.

import Configuration
import Service

struct ConfigDecoder: Decoder {
    let reader: ConfigReader
    let codingPath: [any CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    init(_ reader: ConfigReader, codingPath: [any CodingKey] = []) {
        self.reader = reader
        self.codingPath = codingPath
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Keyed<Key>(reader: reader, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> any UnkeyedDecodingContainer {
        throw DecodingError.typeMismatch([Any].self, .init(codingPath: codingPath, debugDescription: "only lists of strings are settings"))
    }

    func singleValueContainer() throws -> any SingleValueDecodingContainer { Single(reader: reader, codingPath: codingPath) }

    /// The dotted configuration key of a coding path (`learner.steps`).
    static func key(_ path: [any CodingKey]) -> String { path.map(\.stringValue).joined(separator: ".") }

    /// The environment variable of a configuration key (`PROXIMA_LEARNER_STEPS`).
    static func environmentVariable(_ key: String) -> String {
        "PROXIMA_" + key.uppercased().replacingOccurrences(of: ".", with: "_")
    }

    /// A leaf that has no value: `decodeIfPresent` turns it into nil (the type keeps its default).
    struct Absent: Error {}

    // MARK: Leaves

    struct Single: SingleValueDecodingContainer {
        let reader: ConfigReader
        let codingPath: [any CodingKey]
        private var key: ConfigKey { ConfigKey(ConfigDecoder.key(codingPath)) }
        private var text: String? { reader.string(forKey: key) }

        private func mismatch<T>(_ type: T.Type, _ expected: String) -> DecodingError {
            .typeMismatch(type, .init(codingPath: codingPath, debugDescription: "must be \(expected) (got \(text ?? "an unreadable value"))"))
        }

        func decodeNil() -> Bool { text == nil && reader.stringArray(forKey: key) == nil }

        func decode(_ type: String.Type) throws -> String {
            guard let value = text else { throw Absent() }
            return value
        }

        func decode(_ type: Bool.Type) throws -> Bool {
            guard text != nil else { throw Absent() }
            guard let value = reader.bool(forKey: key) else { throw mismatch(type, "true or false") }
            return value
        }

        func decode(_ type: Int.Type) throws -> Int {
            guard text != nil else { throw Absent() }
            guard let value = reader.int(forKey: key) else { throw mismatch(type, "an integer") }
            return value
        }

        func decode(_ type: Double.Type) throws -> Double {
            guard text != nil else { throw Absent() }
            guard let value = reader.double(forKey: key) ?? reader.int(forKey: key).map(Double.init) else { throw mismatch(type, "a number") }
            return value
        }

        func decode(_ type: Float.Type) throws -> Float { Float(try decode(Double.self)) }

        func decode(_ type: UInt64.Type) throws -> UInt64 {
            let value = try decode(Int.self)
            guard value >= 0 else { throw mismatch(type, "a non-negative integer") }
            return UInt64(value)
        }

        func decode(_ type: Int64.Type) throws -> Int64 { Int64(try decode(Int.self)) }
        func decode(_ type: Int8.Type) throws -> Int8 { throw mismatch(type, "a supported type") }
        func decode(_ type: Int16.Type) throws -> Int16 { throw mismatch(type, "a supported type") }
        func decode(_ type: Int32.Type) throws -> Int32 { throw mismatch(type, "a supported type") }
        func decode(_ type: UInt.Type) throws -> UInt { throw mismatch(type, "a supported type") }
        func decode(_ type: UInt8.Type) throws -> UInt8 { throw mismatch(type, "a supported type") }
        func decode(_ type: UInt16.Type) throws -> UInt16 { throw mismatch(type, "a supported type") }
        func decode(_ type: UInt32.Type) throws -> UInt32 { throw mismatch(type, "a supported type") }

        func decode<T: Decodable>(_ type: T.Type) throws -> T {
            if type == [String].self {
                // A YAML list, or one string (an environment variable: comma-separated).
                if let values = reader.stringArray(forKey: key, isSecret: true) { return values.filter { !$0.isEmpty } as! T }
                guard let one = reader.string(forKey: key, isSecret: true) else { throw Absent() }
                return one.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty } as! T
            }
            return try T(from: ConfigDecoder(reader, codingPath: codingPath))
        }
    }

    // MARK: Sections

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let reader: ConfigReader
        let codingPath: [any CodingKey]
        var allKeys: [Key] { [] }

        private func leaf(_ key: Key) -> Single { Single(reader: reader, codingPath: codingPath + [key]) }

        func contains(_ key: Key) -> Bool { !leaf(key).decodeNil() }
        func decodeNil(forKey key: Key) throws -> Bool { leaf(key).decodeNil() }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            do { return try leaf(key).decode(type) } catch is Absent {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
            }
        }

        /// nil for an absent leaf; a section (a nested settings type) is always decoded, its absent keys keeping their defaults.
        func decodeIfPresent<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
            do { return try leaf(key).decode(type) } catch is Absent { return nil }
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            KeyedDecodingContainer(Keyed<NestedKey>(reader: reader, codingPath: codingPath + [key]))
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer {
            try ConfigDecoder(reader, codingPath: codingPath + [key]).unkeyedContainer()
        }

        func superDecoder() throws -> any Decoder { ConfigDecoder(reader, codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> any Decoder { ConfigDecoder(reader, codingPath: codingPath + [key]) }
    }
}

extension SettingsError {
    /// A decoding failure of a configuration value: the key, its environment variable and what was wrong.
    init(configuration error: DecodingError) {
        let (path, why): ([any CodingKey], String) = switch error {
        case let .typeMismatch(_, c), let .valueNotFound(_, c), let .dataCorrupted(c): (c.codingPath, c.debugDescription)
        case let .keyNotFound(key, c): (c.codingPath + [key], "is missing")
        @unknown default: ([], "\(error)")
        }
        let key = ConfigDecoder.key(path)
        self.init(key: key, "configuration key \(key) (environment \(ConfigDecoder.environmentVariable(key))) \(why)")
    }
}
