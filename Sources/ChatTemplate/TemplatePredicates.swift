// TemplatePredicates: jinja2's `is` tests (`is defined`, `is none`, `is string`, `is mapping`, …),
// also used by the select/reject filters, with Python's type rules (a bool is a number, not an integer).

// MARK: - Names

enum TemplatePredicates {
    /// Tests the parser accepts; any other name fails at init with its location.
    static let supportedNames: Set<String> = [
        "defined", "undefined", "none", "string", "mapping", "iterable", "sequence", "number", "integer",
        "float", "boolean", "true", "false", "callable", "equalto", "eq", "==", "ne", "!=", "lt", "<", "le",
        "<=", "gt", ">", "ge", ">=", "in", "odd", "even", "divisibleby", "lower", "upper", "sameas",
    ]

    private static let comparisons: [String: ComparisonOperator] = [
        "equalto": .equal, "eq": .equal, "==": .equal, "ne": .notEqual, "!=": .notEqual, "lt": .less, "<": .less,
        "le": .lessOrEqual, "<=": .lessOrEqual, "gt": .greater, ">": .greater, "ge": .greaterOrEqual, ">=": .greaterOrEqual,
    ]

    static func comparison(named name: String) -> ComparisonOperator? { comparisons[name] }
}

// MARK: - Evaluation

extension TemplateRenderer {
    func applyTest(_ name: String, to value: RuntimeValue, with arguments: ArgumentValues,
                   at location: TemplateSourceLocation) throws(ChatTemplateError) -> Bool {
        if let comparison = TemplatePredicates.comparison(named: name) {
            return try compare(value, comparison, try requiredArgument(name, arguments, at: location), at: location)
        }
        switch name {
        case "defined": return !value.isUndefined
        case "undefined": return value.isUndefined
        case "none":
            if case .none = value { return true }
            return false
        case "string":
            if case .string = value { return true }
            return false
        case "mapping":
            if case .dict = value { return true }
            return false
        case "iterable", "sequence":
            switch value {
            case .string, .list, .tuple, .dict, .undefined: return true
            case .iterator: return name == "iterable"
            default: return false
            }
        case "number":
            switch value {
            case .int, .double, .bool: return true
            default: return false
            }
        case "integer":
            if case .int = value { return true }
            return false
        case "float":
            if case .double = value { return true }
            return false
        case "boolean":
            if case .bool = value { return true }
            return false
        case "true", "false":
            if case .bool(let flag) = value { return flag == (name == "true") }
            return false
        case "callable":
            if case .callable = value { return true }
            return false
        case "in":
            return try contains(try requiredArgument(name, arguments, at: location), value, at: location)
        case "odd", "even":
            let remainder = try arithmetic(.modulo, value, .int(2), at: location)
            return remainder.isEqual(to: .int(name == "odd" ? 1 : 0))
        case "divisibleby":
            let divisor = try requiredArgument(name, arguments, at: location)
            return try arithmetic(.modulo, value, divisor, at: location).isEqual(to: .int(0))
        case "lower", "upper":
            let text = value.pythonString
            let cased = text.unicodeScalars.filter(\.properties.isCased)
            guard !cased.isEmpty else { return false }
            return name == "lower" ? cased.allSatisfy(\.properties.isLowercase) : cased.allSatisfy(\.properties.isUppercase)
        case "sameas":
            return isSameObject(value, try requiredArgument(name, arguments, at: location))
        default:
            throw .unsupported("unsupported test '\(name)'", at: location)
        }
    }

    private func requiredArgument(_ test: String, _ arguments: ArgumentValues, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        guard let argument = arguments.positional.first else { throw .runtime("test '\(test)' needs an argument", at: location) }
        return argument
    }

    /// Python's `is` for the objects templates compare that way (None, booleans, namespaces).
    private func isSameObject(_ left: RuntimeValue, _ right: RuntimeValue) -> Bool {
        switch (left, right) {
        case (.none, .none): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.namespace(let a), .namespace(let b)): return a === b
        default: return false
        }
    }
}
