// TemplateFilters: the `|filter` functions chat templates use, with jinja2 3.1's semantics and HF's
// own `tojson` (json.dumps with ensure_ascii=False, indent, separators, sort_keys).

// MARK: - Names

enum TemplateFilters {
    /// Filters the parser accepts; any other name fails at init with its location.
    static let supportedNames: Set<String> = [
        "trim", "length", "count", "upper", "lower", "first", "last", "join", "default", "d", "tojson",
        "capitalize", "replace", "string", "list", "items", "title", "select", "reject", "selectattr",
        "rejectattr", "map", "reverse", "abs", "int", "float",
    ]
}

// MARK: - Evaluation

extension TemplateRenderer {
    func applyFilter(_ name: String, to value: RuntimeValue, with arguments: ArgumentValues,
                     at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        switch name {
        case "trim":
            try arguments.check(name, accepts: ["chars"], at: location)
            return .string(stripped(value.pythonString, characters: try optionalString(arguments.value(0, "chars"), at: location), leading: true, trailing: true))
        case "length", "count":
            return .int(try length(of: value, at: location))
        case "upper": return .string(value.pythonString.uppercased())
        case "lower": return .string(value.pythonString.lowercased())
        case "capitalize": return .string(capitalized(value.pythonString))
        case "title": return .string(jinjaTitle(value.pythonString))
        case "string": return .string(value.pythonString)
        case "first":
            return try iterate(value, at: location).first ?? .undefined("No first item, sequence was empty.")
        case "last":
            if case .iterator(let iterator) = value, !iterator.kind.isView {
                throw .runtime("'\(iterator.kind.rawValue)' object is not reversible", at: location)
            }
            return try iterate(value, at: location).last ?? .undefined("No last item, sequence was empty.")
        case "list": return .list(try iterate(value, at: location))
        case "reverse":
            return try reversed(value, at: location)
        case "join":
            try arguments.check(name, accepts: ["d", "attribute"], at: location)
            let separator = arguments.value(0, "d")?.pythonString ?? ""
            var items = try iterate(value, at: location)
            if let attributePath = arguments.value(1, "attribute") {
                items = try items.map { item throws(ChatTemplateError) in try lookupPath(attributePath, in: item, at: location) }
            }
            return .string(items.map(\.pythonString).joined(separator: separator))
        case "default", "d":
            try arguments.check(name, accepts: ["default_value", "boolean"], at: location)
            let fallback = arguments.value(0, "default_value") ?? .string("")
            let useFalsiness = arguments.value(1, "boolean")?.isTruthy ?? false
            return value.isUndefined || (useFalsiness && !value.isTruthy) ? fallback : value
        case "tojson":
            return try toJSON(value, arguments, at: location)
        case "replace":
            try arguments.check(name, accepts: ["old", "new", "count"], at: location)
            guard let old = arguments.value(0, "old"), let new = arguments.value(1, "new") else {
                throw .runtime("replace() needs the old and new strings", at: location)
            }
            let limit = arguments.value(2, "count")?.integerValue ?? -1
            return .string(replacing(old.pythonString, with: new.pythonString, in: value.pythonString, limit: limit))
        case "items", "select", "reject", "selectattr", "rejectattr", "map":
            return .iterator(generator { () throws(ChatTemplateError) in try lazyFilter(name, value, arguments, at: location) })
        case "abs":
            if case .double(let double) = value { return .double(abs(double)) }
            guard let integer = value.integerValue else { throw .runtime("bad operand type for abs(): '\(value.typeName)'", at: location) }
            return .int(abs(integer))
        case "int", "float":
            if case .undefined(let undefined) = value { throw .runtime(undefined.message, at: location) }
            return converted(value, toInteger: name == "int") ?? arguments.value(0, "default") ?? (name == "int" ? .int(0) : .double(0))
        default:
            throw .unsupported("unsupported filter '\(name)'", at: location)
        }
    }

    // MARK: Generators

    /// The filters jinja2 writes as generators: computed now, but failures wait until the result is iterated.
    private func lazyFilter(_ name: String, _ value: RuntimeValue, _ arguments: ArgumentValues,
                            at location: TemplateSourceLocation) throws(ChatTemplateError) -> [RuntimeValue] {
        switch name {
        case "items":
            switch value {
            case .dict(let dictionary): return dictionary.keys.map { .tuple([.string($0), dictionary[$0]!]) }
            case .undefined: return []
            default: throw .runtime("Can only get item pairs from a mapping.", at: location)
            }
        case "select", "reject":
            var kept: [RuntimeValue] = []
            for item in try iterate(value, at: location)
            where try passesSelection(item, arguments.positional, at: location) == (name == "select") {
                kept.append(item)
            }
            return kept
        case "selectattr", "rejectattr":
            guard let attributePath = arguments.positional.first else { throw .runtime("\(name)() needs an attribute name", at: location) }
            let rest = Array(arguments.positional.dropFirst())
            var kept: [RuntimeValue] = []
            for item in try iterate(value, at: location)
            where try passesSelection(try lookupPath(attributePath, in: item, at: location), rest, at: location) == (name == "selectattr") {
                kept.append(item)
            }
            return kept
        default:
            return try mapped(try iterate(value, at: location), arguments, at: location)
        }
    }

    private func generator(_ produce: () throws(ChatTemplateError) -> [RuntimeValue]) -> IteratorValue {
        do {
            return IteratorValue(kind: .generator, contents: .success(try produce()))
        } catch {
            return IteratorValue(kind: .generator, contents: .failure(error))
        }
    }

    /// jinja2's `reverse`: strings reversed, sequences as Python's `reversed()` iterator, generators as a list.
    private func reversed(_ value: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        let kind: IteratorValue.Kind
        switch value {
        case .string(let text): return .string(String(String.UnicodeScalarView(text.unicodeScalars.reversed())))
        case .list: kind = .listReverseIterator
        case .tuple, .undefined: kind = .reversed
        case .dict: kind = .dictionaryReverseKeyIterator
        case .iterator(let iterator) where iterator.kind.isView: kind = .reversed
        case .iterator: return .list(try iterate(value, at: location).reversed())
        default: throw .runtime("argument must be iterable", at: location)
        }
        return .iterator(IteratorValue(kind: kind, contents: .success(try iterate(value, at: location).reversed())))
    }

    // MARK: Helpers

    func length(of value: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> Int {
        switch value {
        case .string(let text): return text.unicodeScalars.count
        case .list(let items), .tuple(let items): return items.count
        case .dict(let dictionary): return dictionary.count
        case .iterator(let iterator) where iterator.kind.isView: return iterator.count ?? 0
        case .undefined: return 0
        default: throw .runtime("object of type '\(value.typeName)' has no len()", at: location)
        }
    }

    private func toJSON(_ value: RuntimeValue, _ arguments: ArgumentValues, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        try arguments.check("tojson", accepts: ["ensure_ascii", "indent", "separators", "sort_keys"], at: location)
        if arguments.value(0, "ensure_ascii")?.isTruthy == true { throw .unsupported("tojson(ensure_ascii=true)", at: location) }
        var style = JSONStyle()
        switch arguments.value(1, "indent") {
        case nil, .none?: break
        case .int(let indent)?: style.indent = max(0, indent)
        default: throw .unsupported("tojson indent other than an integer", at: location)
        }
        switch arguments.value(2, "separators") {
        case nil, .none?: break
        case .list(let pair)? where pair.count == 2, .tuple(let pair)? where pair.count == 2:
            style.itemSeparator = pair[0].pythonString
            style.keySeparator = pair[1].pythonString
        default: throw .runtime("tojson separators must be a pair of strings", at: location)
        }
        style.sortKeys = arguments.value(3, "sort_keys")?.isTruthy ?? false
        do {
            return .string(try value.jsonText(style))
        } catch {
            switch error {
            case .notSerializable(let type): throw .runtime("Object of type \(type) is not JSON serializable", at: location)
            }
        }
    }

    /// `select`/`reject` and the `*attr` variants: a named test with arguments, or truthiness when none is named.
    private func passesSelection(_ item: RuntimeValue, _ arguments: [RuntimeValue], at location: TemplateSourceLocation) throws(ChatTemplateError) -> Bool {
        guard let testName = arguments.first else { return item.isTruthy }
        guard case .string(let name) = testName, TemplatePredicates.supportedNames.contains(name) else {
            throw .unsupported("unsupported test \(testName.pythonRepr) in select/reject", at: location)
        }
        return try applyTest(name, to: item, with: ArgumentValues(positional: Array(arguments.dropFirst())), at: location)
    }

    /// jinja2's attribute paths: `"a.b"` and `"items.0"` walk attributes and indices.
    private func lookupPath(_ path: RuntimeValue, in item: RuntimeValue, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        guard case .string(let text) = path else { return try self.item(path, of: item, at: location) }
        var current = item
        for part in text.split(separator: ".", omittingEmptySubsequences: false) {
            let key: RuntimeValue = Int(part).map(RuntimeValue.int) ?? .string(String(part))
            current = try self.item(key, of: current, at: location)
        }
        return current
    }

    private func mapped(_ items: [RuntimeValue], _ arguments: ArgumentValues, at location: TemplateSourceLocation) throws(ChatTemplateError) -> [RuntimeValue] {
        if let attributePath = arguments.keyword("attribute") {
            let fallback = arguments.keyword("default")
            return try items.map { item throws(ChatTemplateError) in
                let found = try lookupPath(attributePath, in: item, at: location)
                return found.isUndefined ? fallback ?? found : found
            }
        }
        guard case .string(let filterName)? = arguments.positional.first, TemplateFilters.supportedNames.contains(filterName),
              filterName != "map" else {
            throw .unsupported("map() without attribute= or a supported filter name", at: location)
        }
        let rest = ArgumentValues(positional: Array(arguments.positional.dropFirst()), keywords: arguments.keywords)
        return try items.map { item throws(ChatTemplateError) in try applyFilter(filterName, to: item, with: rest, at: location) }
    }

    private func converted(_ value: RuntimeValue, toInteger: Bool) -> RuntimeValue? {
        let number: Double?
        switch value {
        case .string(let text):
            let trimmed = stripped(text, characters: nil, leading: true, trailing: true)
            if toInteger, let integer = Int(trimmed) { return .int(integer) }
            number = Double(trimmed)
        default:
            number = value.numericValue
        }
        guard let number, number.isFinite || !toInteger else { return nil }
        return toInteger ? .int(Int(number.rounded(.towardZero))) : .double(number)
    }

    private func optionalString(_ value: RuntimeValue?, at location: TemplateSourceLocation) throws(ChatTemplateError) -> String? {
        switch value {
        case nil, .none?: return nil
        case .string(let text)?: return text
        default: throw .runtime("expected a string argument, got \(value!.typeName)", at: location)
        }
    }
}
