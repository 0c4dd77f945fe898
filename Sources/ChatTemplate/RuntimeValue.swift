// RuntimeValue: what expressions evaluate to while rendering: the caller's values plus jinja2's
// Undefined, namespace objects, the loop object and callables, with Python's truthiness and equality.

// MARK: - Value

enum RuntimeValue {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case none
    case list([RuntimeValue])
    /// A Python tuple: behaves like a list but prints as `(a, b)` (`items()` pairs, `a, b` literals).
    case tuple([RuntimeValue])
    case dict(RuntimeDictionary)
    /// What select/map/items/reverse and dict.items()/keys()/values() return: not a list in Python.
    case iterator(IteratorValue)
    /// jinja2's default Undefined: prints as "", is falsy and empty, and fails on arithmetic or attribute access.
    case undefined(UndefinedValue)
    case namespace(NamespaceObject)
    case loop(LoopState)
    indirect case callable(CallableValue)

    init(_ value: TemplateValue) {
        switch value {
        case .string(let string): self = .string(string)
        case .int(let int): self = .int(int)
        case .double(let double): self = .double(double)
        case .bool(let bool): self = .bool(bool)
        case .none: self = .none
        case .list(let list): self = .list(list.map(RuntimeValue.init))
        case .dict(let dictionary):
            var converted = RuntimeDictionary()
            for (key, value) in dictionary.pairs { converted[key] = RuntimeValue(value) }
            self = .dict(converted)
        }
    }

    static func undefined(_ message: String) -> RuntimeValue { .undefined(UndefinedValue(message: message)) }

    /// Python's `bool(value)`.
    var isTruthy: Bool {
        switch self {
        case .string(let string): return !string.isEmpty
        case .int(let int): return int != 0
        case .double(let double): return double != 0
        case .bool(let bool): return bool
        case .none, .undefined: return false
        case .list(let items), .tuple(let items): return !items.isEmpty
        case .dict(let dictionary): return dictionary.count > 0
        case .iterator(let iterator): return !iterator.kind.isView || iterator.count.map { $0 > 0 } ?? true
        case .namespace, .loop, .callable: return true
        }
    }

    var isUndefined: Bool {
        if case .undefined = self { return true }
        return false
    }

    /// How Python names the value's type in error messages.
    var typeName: String {
        switch self {
        case .string: return "str"
        case .int: return "int"
        case .double: return "float"
        case .bool: return "bool"
        case .none: return "NoneType"
        case .list: return "list"
        case .tuple: return "tuple"
        case .dict: return "dict"
        case .iterator(let iterator): return iterator.kind.rawValue
        case .undefined: return "Undefined"
        case .namespace: return "Namespace"
        case .loop: return "LoopContext"
        case .callable: return "function"
        }
    }

    /// Python's `==` (numbers compare across int/float/bool; two Undefineds are equal, as in jinja2).
    func isEqual(to other: RuntimeValue) -> Bool {
        switch (self, other) {
        case (.string(let a), .string(let b)): return a.unicodeScalars.elementsEqual(b.unicodeScalars)
        case (.none, .none), (.undefined, .undefined): return true
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.isEqual(to: $1) }
        case (.dict(let a), .dict(let b)):
            return a.count == b.count && a.keys.allSatisfy { key in b[key].map { a[key]!.isEqual(to: $0) } ?? false }
        case (.iterator(let a), .iterator(let b)):
            guard a.kind == b.kind, a.kind == .dictionaryKeys || a.kind == .dictionaryItems,
                  case .success(let x) = a.contents, case .success(let y) = b.contents else { return false }
            return x.count == y.count && x.allSatisfy { item in y.contains { $0.isEqual(to: item) } }
        case (.namespace(let a), .namespace(let b)): return a === b
        case (.loop(let a), .loop(let b)): return a === b
        default:
            guard let a = numericValue, let b = other.numericValue else { return false }
            return a == b
        }
    }

    /// The value as a number when Python would treat it as one (bool included).
    var numericValue: Double? {
        switch self {
        case .int(let int): return Double(int)
        case .double(let double): return double
        case .bool(let bool): return bool ? 1 : 0
        default: return nil
        }
    }

    /// The value as an integer when it is an int or a bool.
    var integerValue: Int? {
        switch self {
        case .int(let int): return int
        case .bool(let bool): return bool ? 1 : 0
        default: return nil
        }
    }
}

// MARK: - Undefined

struct UndefinedValue {
    /// jinja2's message for using it, e.g. "'x' is undefined" or "'dict object' has no attribute 'y'".
    let message: String
}

// MARK: - Dictionary

/// An insertion-ordered dictionary of runtime values (Python's dict).
struct RuntimeDictionary {
    private(set) var keys: [String] = []
    private var storage: [String: RuntimeValue] = [:]

    var count: Int { keys.count }

    subscript(key: String) -> RuntimeValue? {
        get { storage[key] }
        set {
            guard let newValue else { return }
            if storage.updateValue(newValue, forKey: key) == nil { keys.append(key) }
        }
    }

    var values: [RuntimeValue] { keys.map { storage[$0]! } }
}

// MARK: - Iterators

/// A Python iterator or dict view. jinja2's select/reject/map/items filters are generators: always truthy,
/// without len(), and a failure inside them only surfaces when they are iterated.
struct IteratorValue {
    enum Kind: String {
        case generator
        case listReverseIterator = "list_reverseiterator"
        case reversed
        case dictionaryReverseKeyIterator = "dict_reversekeyiterator"
        case dictionaryItems = "dict_items"
        case dictionaryKeys = "dict_keys"
        case dictionaryValues = "dict_values"

        /// Dict views have a length and compare by emptiness; the others are plain iterators.
        var isView: Bool { self == .dictionaryItems || self == .dictionaryKeys || self == .dictionaryValues }
    }

    let kind: Kind
    let contents: Result<[RuntimeValue], ChatTemplateError>

    var count: Int? {
        guard case .success(let items) = contents else { return nil }
        return items.count
    }
}

// MARK: - Reference objects

/// The object `namespace(...)` returns: attributes that `{% set ns.x = … %}` can change from inside loops.
final class NamespaceObject {
    var attributes: RuntimeDictionary

    init(attributes: RuntimeDictionary) { self.attributes = attributes }
}

/// The `loop` variable inside a for loop.
final class LoopState {
    let items: [RuntimeValue]
    var index0 = 0

    init(items: [RuntimeValue]) { self.items = items }

    func attribute(_ name: String) -> RuntimeValue? {
        let length = items.count
        switch name {
        case "index": return .int(index0 + 1)
        case "index0": return .int(index0)
        case "revindex": return .int(length - index0)
        case "revindex0": return .int(length - index0 - 1)
        case "first": return .bool(index0 == 0)
        case "last": return .bool(index0 == length - 1)
        case "length": return .int(length)
        case "depth": return .int(1)
        case "depth0": return .int(0)
        case "previtem": return index0 > 0 ? items[index0 - 1] : .undefined("there is no previous item")
        case "nextitem": return index0 + 1 < length ? items[index0 + 1] : .undefined("there is no next item")
        default: return nil
        }
    }
}

/// Something a template can call: a global function, a method bound to its receiver, or a macro.
indirect enum CallableValue {
    case global(String)
    case method(receiver: RuntimeValue, name: String)
    case macro(MacroDefinition)
}
