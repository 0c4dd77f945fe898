// PythonOperators: arithmetic, comparison and membership with Python's rules, which jinja2 inherits
// (`'a' + 1` fails, `7 // -2 == -4`, `1 == 1.0`, Undefined in arithmetic fails with jinja2's message).

extension TemplateRenderer {
    // MARK: Arithmetic

    func arithmetic(_ operation: ArithmeticOperator, _ left: RuntimeValue, _ right: RuntimeValue,
                    at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        if case .undefined(let undefined) = left { throw .runtime(undefined.message, at: location) }
        if case .undefined(let undefined) = right { throw .runtime(undefined.message, at: location) }
        switch (operation, left, right) {
        case (.add, .string(let a), .string(let b)): return .string(a + b)
        case (.add, .list(let a), .list(let b)): return .list(a + b)
        case (.add, .tuple(let a), .tuple(let b)): return .tuple(a + b)
        case (.add, .string, _): throw .runtime("can only concatenate str (not \"\(right.typeName)\") to str", at: location)
        case (.add, .list, _), (.add, .tuple, _):
            throw .runtime("can only concatenate \(left.typeName) (not \"\(right.typeName)\") to \(left.typeName)", at: location)
        case (.multiply, .string(let text), _) where right.integerValue != nil:
            return .string(String(repeating: text, count: max(0, right.integerValue!)))
        case (.multiply, _, .string(let text)) where left.integerValue != nil:
            return .string(String(repeating: text, count: max(0, left.integerValue!)))
        case (.multiply, .list(let list), _) where right.integerValue != nil:
            return .list(Array(repeatElement(list, count: max(0, right.integerValue!)).joined()))
        case (.multiply, _, .list(let list)) where left.integerValue != nil:
            return .list(Array(repeatElement(list, count: max(0, left.integerValue!)).joined()))
        case (.modulo, .string, _):
            throw .unsupported("printf-style string formatting with '%'", at: location)
        default:
            break
        }
        if let a = left.integerValue, let b = right.integerValue { return try integerArithmetic(operation, a, b, at: location) }
        guard let a = left.numericValue, let b = right.numericValue else {
            throw .runtime("unsupported operand type(s) for \(operation.rawValue): '\(left.typeName)' and '\(right.typeName)'", at: location)
        }
        switch operation {
        case .add: return .double(a + b)
        case .subtract: return .double(a - b)
        case .multiply: return .double(a * b)
        case .power: return .double(try floatPower(a, b, at: location))
        case .divide, .floorDivide, .modulo:
            guard b != 0 else { throw .runtime("float division by zero", at: location) }
            switch operation {
            case .divide: return .double(a / b)
            case .floorDivide: return .double((a / b).rounded(.down))
            default:
                let remainder = a.truncatingRemainder(dividingBy: b)
                return .double(remainder != 0 && (remainder < 0) != (b < 0) ? remainder + b : remainder)
            }
        }
    }

    private func integerArithmetic(_ operation: ArithmeticOperator, _ a: Int, _ b: Int,
                                   at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        func checked(_ result: (partialValue: Int, overflow: Bool)) throws(ChatTemplateError) -> RuntimeValue {
            guard !result.overflow else { throw .unsupported("integers beyond 64 bits", at: location) }
            return .int(result.partialValue)
        }
        switch operation {
        case .add: return try checked(a.addingReportingOverflow(b))
        case .subtract: return try checked(a.subtractingReportingOverflow(b))
        case .multiply: return try checked(a.multipliedReportingOverflow(by: b))
        case .divide:
            guard b != 0 else { throw .runtime("division by zero", at: location) }
            return .double(Double(a) / Double(b))
        case .floorDivide, .modulo:
            guard b != 0 else { throw .runtime("integer division or modulo by zero", at: location) }
            var quotient = a / b
            var remainder = a % b
            if remainder != 0 && (remainder < 0) != (b < 0) {
                quotient -= 1
                remainder += b
            }
            return .int(operation == .floorDivide ? quotient : remainder)
        case .power:
            guard b >= 0 else { return .double(try floatPower(Double(a), Double(b), at: location)) }
            var result = 1
            for _ in 0..<b { result = try checked(result.multipliedReportingOverflow(by: a)).integerValue! }
            return .int(result)
        }
    }

    /// `base ** exponent` for whole exponents (the only kind chat templates use).
    private func floatPower(_ base: Double, _ exponent: Double, at location: TemplateSourceLocation) throws(ChatTemplateError) -> Double {
        guard exponent == exponent.rounded(), abs(exponent) <= Double(1 << 20) else {
            throw .unsupported("'**' with a fractional or huge exponent", at: location)
        }
        var result = 1.0
        for _ in 0..<Int(abs(exponent)) { result *= base }
        return exponent < 0 ? 1 / result : result
    }

    func negate(_ value: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        switch value {
        case .undefined(let undefined): throw .runtime(undefined.message, at: location)
        case .double(let double): return .double(-double)
        default:
            guard let integer = value.integerValue else { throw operandError("-", value, at: location) }
            return .int(-integer)
        }
    }

    func operandError(_ symbol: String, _ value: RuntimeValue, at location: TemplateSourceLocation) -> ChatTemplateError {
        .runtime("bad operand type for unary \(symbol): '\(value.typeName)'", at: location)
    }

    // MARK: Comparison

    func compare(_ left: RuntimeValue, _ comparison: ComparisonOperator, _ right: RuntimeValue,
                 at location: TemplateSourceLocation) throws(ChatTemplateError) -> Bool {
        switch comparison {
        case .equal: return left.isEqual(to: right)
        case .notEqual: return !left.isEqual(to: right)
        case .contains: return try contains(right, left, at: location)
        case .notContains: return !(try contains(right, left, at: location))
        case .less: return try order(left, right, comparison, at: location) < 0
        case .lessOrEqual: return try order(left, right, comparison, at: location) <= 0
        case .greater: return try order(left, right, comparison, at: location) > 0
        case .greaterOrEqual: return try order(left, right, comparison, at: location) >= 0
        }
    }

    /// -1, 0 or 1 as Python orders numbers, strings (by code point) and lists.
    private func order(_ left: RuntimeValue, _ right: RuntimeValue, _ comparison: ComparisonOperator,
                       at location: TemplateSourceLocation) throws(ChatTemplateError) -> Int {
        switch (left, right) {
        case (.undefined(let undefined), _), (_, .undefined(let undefined)):
            throw .runtime(undefined.message, at: location)
        case (.string(let a), .string(let b)):
            if a.unicodeScalars.elementsEqual(b.unicodeScalars) { return 0 }
            return a.unicodeScalars.lexicographicallyPrecedes(b.unicodeScalars) ? -1 : 1
        case (.list(let a), .list(let b)), (.tuple(let a), .tuple(let b)):
            for (x, y) in zip(a, b) where !x.isEqual(to: y) { return try order(x, y, comparison, at: location) }
            return a.count == b.count ? 0 : (a.count < b.count ? -1 : 1)
        default:
            guard let a = left.numericValue, let b = right.numericValue else {
                throw .runtime("'\(comparison.rawValue)' not supported between instances of '\(left.typeName)' and '\(right.typeName)'", at: location)
            }
            return a == b ? 0 : (a < b ? -1 : 1)
        }
    }

    /// Python's `element in container`.
    func contains(_ container: RuntimeValue, _ element: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> Bool {
        switch container {
        case .string(let text):
            guard case .string(let part) = element else {
                throw .runtime("'in <string>' requires string as left operand, not \(element.typeName)", at: location)
            }
            return part.isEmpty || text.unicodeScalars.firstRange(of: part.unicodeScalars) != nil
        case .list(let items), .tuple(let items): return items.contains { $0.isEqual(to: element) }
        case .dict(let dictionary):
            guard case .string(let key) = element else { return false }
            return dictionary[key] != nil
        case .iterator: return try iterate(container, at: location).contains { $0.isEqual(to: element) }
        case .undefined: return false
        default: throw .runtime("argument of type '\(container.typeName)' is not iterable", at: location)
        }
    }
}
