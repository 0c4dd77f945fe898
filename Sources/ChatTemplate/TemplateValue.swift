// TemplateValue: the values a caller hands to a chat template (messages, tools, special tokens, flags).
// Mirrors the JSON-like Python objects Hugging Face passes to jinja2; dictionaries keep insertion order.

// MARK: - TemplateValue

/// A value visible to a chat template: what `apply_chat_template` would pass as a Python object.
public enum TemplateValue: Sendable, Equatable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    /// Python's `None` (jinja's `none`): defined, but falsy.
    case none
    case list([TemplateValue])
    case dict(TemplateDictionary)
}

// MARK: - Literals

extension TemplateValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
    ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral {
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: TemplateValue...) { self = .list(elements) }
    public init(dictionaryLiteral elements: (String, TemplateValue)...) {
        self = .dict(TemplateDictionary(orderedPairs: elements))
    }
    public init(nilLiteral: ()) { self = .none }
}

// MARK: - TemplateDictionary

/// A string-keyed dictionary that remembers insertion order, as Python's `dict` does (it decides the order
/// of `items()`, `tojson` and printing).
public struct TemplateDictionary: Sendable, Equatable, ExpressibleByDictionaryLiteral {
    /// The keys in insertion order.
    public private(set) var keys: [String] = []
    private var storage: [String: TemplateValue] = [:]

    /// An empty dictionary.
    public init() {}

    /// A dictionary holding `pairs` in their order; a repeated key keeps its first position and last value.
    public init(orderedPairs pairs: [(String, TemplateValue)]) {
        for (key, value) in pairs { self[key] = value }
    }

    public init(dictionaryLiteral elements: (String, TemplateValue)...) { self.init(orderedPairs: elements) }

    /// The value stored under `key`; assigning `nil` removes it.
    public subscript(key: String) -> TemplateValue? {
        get { storage[key] }
        set {
            if let newValue {
                if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
            } else if storage.removeValue(forKey: key) != nil {
                keys.removeAll { $0 == key }
            }
        }
    }

    /// Key-value pairs in insertion order.
    public var pairs: [(key: String, value: TemplateValue)] { keys.map { ($0, storage[$0]!) } }

    /// Equal when both hold the same keys and values, whatever the order (as Python compares dicts).
    public static func == (lhs: TemplateDictionary, rhs: TemplateDictionary) -> Bool { lhs.storage == rhs.storage }
}
