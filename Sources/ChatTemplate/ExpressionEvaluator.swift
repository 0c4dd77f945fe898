// ExpressionEvaluator: evaluates expressions against the current scope with jinja2's lookup rules
// (`x.y` tries the attribute then the item, `x['y']` the item then the attribute; misses are Undefined).

// MARK: - Evaluation

extension TemplateRenderer {
    func evaluate(_ expression: TemplateExpression) throws(ChatTemplateError) -> RuntimeValue {
        let location = expression.location
        switch expression.kind {
        case .literal(let literal):
            switch literal {
            case .string(let string): return .string(string)
            case .int(let int): return .int(int)
            case .double(let double): return .double(double)
            case .bool(let bool): return .bool(bool)
            case .none: return .none
            }
        case .variable(let name):
            if let value = scope.lookup(name) { return value }
            if Self.globalFunctions.contains(name) { return .callable(.global(name)) }
            return .undefined("'\(name)' is undefined")
        case .list(let items):
            return .list(try evaluateAll(items))
        case .tuple(let items):
            return .tuple(try evaluateAll(items))
        case .dictionary(let entries):
            var dictionary = RuntimeDictionary()
            for entry in entries {
                guard case .string(let key) = try evaluate(entry.key) else {
                    throw .unsupported("dictionary keys other than strings", at: entry.key.location)
                }
                dictionary[key] = try evaluate(entry.value)
            }
            return .dict(dictionary)
        case .attribute(let base, let name):
            return try attribute(name, of: try evaluate(base), at: location)
        case .item(let base, let key):
            return try item(try evaluate(key), of: try evaluate(base), at: location)
        case .slice(let base, let start, let stop, let step):
            return try slice(try evaluate(base), start: try start.map(evaluate), stop: try stop.map(evaluate),
                             step: try step.map(evaluate), at: location)
        case .call(let callee, let arguments):
            return try call(try evaluate(callee), with: try evaluateArguments(arguments), at: location)
        case .filter(let base, let name, let arguments):
            return try applyFilter(name, to: try evaluate(base), with: try evaluateArguments(arguments), at: location)
        case .test(let base, let name, let arguments, let negated):
            let passed = try applyTest(name, to: try evaluate(base), with: try evaluateArguments(arguments), at: location)
            return .bool(passed != negated)
        case .not(let operand):
            return .bool(!(try evaluate(operand).isTruthy))
        case .negate(let operand):
            return try negate(try evaluate(operand), at: location)
        case .unaryPlus(let operand):
            let value = try evaluate(operand)
            guard value.numericValue != nil else { throw operandError("+", value, at: location) }
            return value
        case .arithmetic(let operation, let left, let right):
            return try arithmetic(operation, try evaluate(left), try evaluate(right), at: location)
        case .and(let left, let right):
            let first = try evaluate(left)
            return first.isTruthy ? try evaluate(right) : first
        case .or(let left, let right):
            let first = try evaluate(left)
            return first.isTruthy ? first : try evaluate(right)
        case .concatenate(let parts):
            var text = ""
            for part in parts { text += try evaluate(part).pythonString }
            return .string(text)
        case .comparison(let first, let steps):
            var left = try evaluate(first)
            for step in steps {
                let right = try evaluate(step.operand)
                guard try compare(left, step.comparison, right, at: step.operand.location) else { return .bool(false) }
                left = right
            }
            return .bool(true)
        case .conditional(let condition, let then, let otherwise):
            if try evaluate(condition).isTruthy { return try evaluate(then) }
            if let otherwise { return try evaluate(otherwise) }
            return .undefined("the inline if-expression at \(location) evaluated to false and has no else section")
        }
    }

    private func evaluateAll(_ expressions: [TemplateExpression]) throws(ChatTemplateError) -> [RuntimeValue] {
        var values: [RuntimeValue] = []
        values.reserveCapacity(expressions.count)
        for expression in expressions { values.append(try evaluate(expression)) }
        return values
    }

    func evaluateArguments(_ arguments: CallArguments) throws(ChatTemplateError) -> ArgumentValues {
        var values = ArgumentValues()
        for expression in arguments.positional { values.positional.append(try evaluate(expression)) }
        for (name, expression) in arguments.keywords { values.keywords.append((name, try evaluate(expression))) }
        return values
    }

    // MARK: Attributes and items

    /// `value.name`: a method or attribute first, then the item of that name, else Undefined.
    func attribute(_ name: String, of value: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        switch value {
        case .undefined(let undefined):
            throw .runtime(undefined.message, at: location)
        case .dict(let dictionary):
            if TemplateMethods.dictionaryMethods.contains(name) { return .callable(.method(receiver: value, name: name)) }
            return dictionary[name] ?? .undefined("'dict object' has no attribute '\(name)'")
        case .string:
            if TemplateMethods.stringMethods.contains(name) { return .callable(.method(receiver: value, name: name)) }
        case .list:
            if TemplateMethods.listMethods.contains(name) { return .callable(.method(receiver: value, name: name)) }
        case .namespace(let namespace):
            if let attribute = namespace.attributes[name] { return attribute }
        case .loop(let loop):
            if let attribute = loop.attribute(name) { return attribute }
            if name == "cycle" { return .callable(.method(receiver: value, name: name)) }
        default:
            break
        }
        return .undefined("'\(value.typeName) object' has no attribute '\(name)'")
    }

    /// `value[key]`: the item first, then (for string keys) the attribute, else Undefined.
    func item(_ key: RuntimeValue, of value: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        switch (value, key) {
        case (.undefined(let undefined), _):
            throw .runtime(undefined.message, at: location)
        case (.dict(let dictionary), .string(let name)):
            if let found = dictionary[name] { return found }
        case (.list(let list), _), (.tuple(let list), _):
            if let position = key.integerValue {
                let index = position < 0 ? position + list.count : position
                return list.indices.contains(index) ? list[index] : .undefined("\(value.typeName) object has no element \(position)")
            }
        case (.string(let string), _):
            if let position = key.integerValue {
                let scalars = Array(string.unicodeScalars)
                let index = position < 0 ? position + scalars.count : position
                return scalars.indices.contains(index) ? .string(String(scalars[index])) : .undefined("str object has no element \(position)")
            }
        default:
            break
        }
        if case .string(let name) = key { return try attribute(name, of: value, at: location) }
        return .undefined("'\(value.typeName) object' has no element \(key.pythonRepr)")
    }

    // MARK: Slices

    /// `value[start:stop:step]`; jinja2 compiles slices to a plain Python subscript, so misses raise.
    func slice(_ value: RuntimeValue, start: RuntimeValue?, stop: RuntimeValue?, step: RuntimeValue?,
               at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        func bound(_ value: RuntimeValue?) throws(ChatTemplateError) -> Int? {
            guard let value else { return nil }
            if case .none = value { return nil }
            guard let integer = value.integerValue else {
                throw .runtime("slice indices must be integers or None", at: location)
            }
            return integer
        }
        let stepValue = try bound(step) ?? 1
        guard stepValue != 0 else { throw .runtime("slice step cannot be zero", at: location) }
        switch value {
        case .list(let list):
            return .list(sliceIndices(count: list.count, start: try bound(start), stop: try bound(stop), step: stepValue).map { list[$0] })
        case .tuple(let items):
            return .tuple(sliceIndices(count: items.count, start: try bound(start), stop: try bound(stop), step: stepValue).map { items[$0] })
        case .string(let string):
            let scalars = Array(string.unicodeScalars)
            let indices = sliceIndices(count: scalars.count, start: try bound(start), stop: try bound(stop), step: stepValue)
            var result = String.UnicodeScalarView()
            for index in indices { result.append(scalars[index]) }
            return .string(String(result))
        case .undefined(let undefined):
            throw .runtime(undefined.message, at: location)
        case .dict:
            throw .runtime("unhashable type: 'slice'", at: location)
        default:
            throw .runtime("'\(value.typeName)' object is not subscriptable", at: location)
        }
    }

    /// The indices Python's `slice(start, stop, step).indices(count)` walks.
    private func sliceIndices(count: Int, start: Int?, stop: Int?, step: Int) -> [Int] {
        func clamp(_ value: Int, low: Int, high: Int) -> Int {
            let adjusted = value < 0 ? value + count : value
            return min(max(adjusted, low), high)
        }
        if step > 0 {
            let first = start.map { clamp($0, low: 0, high: count) } ?? 0
            let last = stop.map { clamp($0, low: 0, high: count) } ?? count
            return first < last ? Array(stride(from: first, to: last, by: step)) : []
        }
        let first = start.map { clamp($0, low: -1, high: count - 1) } ?? count - 1
        let last = stop.map { clamp($0, low: -1, high: count - 1) } ?? -1
        return first > last ? Array(stride(from: first, to: last, by: step)) : []
    }

    // MARK: Calls

    func call(_ callee: RuntimeValue, with arguments: ArgumentValues, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        switch callee {
        case .callable(.global(let name)):
            return try callGlobal(name, with: arguments, at: location)
        case .callable(.method(let receiver, let name)):
            return try callMethod(name, on: receiver, with: arguments, at: location)
        case .callable(.macro(let macro)):
            return try callMacro(macro, with: arguments, at: location)
        case .undefined(let undefined):
            throw .runtime(undefined.message, at: location)
        default:
            throw .runtime("'\(callee.typeName)' object is not callable", at: location)
        }
    }

    private func callMacro(_ macro: MacroDefinition, with arguments: ArgumentValues, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        guard arguments.positional.count <= macro.parameters.count else {
            throw .runtime("macro '\(macro.name)' takes not more than \(macro.parameters.count) argument(s)", at: location)
        }
        var variables: [String: RuntimeValue] = [:]
        for (position, parameter) in macro.parameters.enumerated() {
            if position < arguments.positional.count {
                variables[parameter.name] = arguments.positional[position]
            } else if let keyword = arguments.keyword(parameter.name) {
                variables[parameter.name] = keyword
            } else if let defaultValue = parameter.defaultValue {
                variables[parameter.name] = try evaluate(defaultValue)
            } else {
                variables[parameter.name] = .undefined("parameter '\(parameter.name)' was not provided")
            }
        }
        if let unknown = arguments.keywords.first(where: { keyword in !macro.parameters.contains { $0.name == keyword.name } }) {
            throw .runtime("macro '\(macro.name)' takes no keyword argument '\(unknown.name)'", at: location)
        }
        return .string(try renderCaptured(macro.body, in: rootScope, variables: variables))
    }
}

// MARK: - Arguments

/// Evaluated call arguments.
struct ArgumentValues {
    var positional: [RuntimeValue] = []
    var keywords: [(name: String, value: RuntimeValue)] = []

    func keyword(_ name: String) -> RuntimeValue? { keywords.first { $0.name == name }?.value }

    /// The argument at `position` or named `name` (jinja2 filters accept either).
    func value(_ position: Int, _ name: String) -> RuntimeValue? {
        position < positional.count ? positional[position] : keyword(name)
    }

    /// Fails when more positional arguments or other keywords than `names` are passed.
    func check(_ function: String, accepts names: [String], at location: TemplateSourceLocation) throws(ChatTemplateError) {
        guard positional.count <= names.count else {
            throw .runtime("\(function)() takes at most \(names.count) argument(s), got \(positional.count)", at: location)
        }
        if let unknown = keywords.first(where: { !names.contains($0.name) }) {
            throw .unsupported("\(function)() keyword argument '\(unknown.name)'", at: location)
        }
    }
}
