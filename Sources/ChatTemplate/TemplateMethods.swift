// TemplateMethods: Python methods templates call on strings and dicts (`.strip()`, `.split()`, `.get()`,
// `.items()`, …) and HF's global functions (range, namespace, raise_exception, strftime_now, dict).

enum TemplateMethods {
    /// Every attribute name Python's str/dict/list have, so `x.name is defined` answers as jinja2 does;
    /// calling one that is not implemented below fails with an unsupported error.
    static let stringMethods: Set<String> = [
        "capitalize", "casefold", "center", "count", "encode", "endswith", "expandtabs", "find", "format",
        "format_map", "index", "isalnum", "isalpha", "isascii", "isdecimal", "isdigit", "isidentifier", "islower",
        "isnumeric", "isprintable", "isspace", "istitle", "isupper", "join", "ljust", "lower", "lstrip",
        "maketrans", "partition", "removeprefix", "removesuffix", "replace", "rfind", "rindex", "rjust",
        "rpartition", "rsplit", "rstrip", "split", "splitlines", "startswith", "strip", "swapcase", "title",
        "translate", "upper", "zfill",
    ]
    static let dictionaryMethods: Set<String> = [
        "clear", "copy", "fromkeys", "get", "items", "keys", "pop", "popitem", "setdefault", "update", "values",
    ]
    static let listMethods: Set<String> = [
        "append", "clear", "copy", "count", "extend", "index", "insert", "pop", "remove", "reverse", "sort",
    ]

    /// jinja2's sandbox refuses ranges longer than this.
    static let maximumRange = 100_000
}

extension TemplateRenderer {
    // MARK: Methods

    func callMethod(_ name: String, on receiver: RuntimeValue, with arguments: ArgumentValues,
                    at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        switch receiver {
        case .string(let text):
            if let result = try callStringMethod(name, on: text, with: arguments, at: location) { return result }
        case .dict(let dictionary):
            switch name {
            case "get":
                try arguments.check(name, accepts: ["key", "default"], at: location)
                guard case .string(let key)? = arguments.value(0, "key") else { return arguments.value(1, "default") ?? .none }
                return dictionary[key] ?? arguments.value(1, "default") ?? .none
            case "items": return .iterator(IteratorValue(kind: .dictionaryItems, contents: .success(dictionary.keys.map { .tuple([.string($0), dictionary[$0]!]) })))
            case "keys": return .iterator(IteratorValue(kind: .dictionaryKeys, contents: .success(dictionary.keys.map(RuntimeValue.string))))
            case "values": return .iterator(IteratorValue(kind: .dictionaryValues, contents: .success(dictionary.values)))
            default: break
            }
        case .loop(let loop) where name == "cycle":
            guard !arguments.positional.isEmpty else { throw .runtime("no items for cycling given", at: location) }
            return arguments.positional[loop.index0 % arguments.positional.count]
        default:
            break
        }
        throw .unsupported("unsupported method '\(receiver.typeName).\(name)'", at: location)
    }

    private func callStringMethod(_ name: String, on text: String, with arguments: ArgumentValues,
                                  at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue? {
        func stringArgument(_ position: Int, _ keyword: String) throws(ChatTemplateError) -> String? {
            switch arguments.value(position, keyword) {
            case nil, .none?: return nil
            case .string(let value)?: return value
            case let other?: throw .runtime("\(name)() argument must be str or None, not \(other.typeName)", at: location)
            }
        }
        switch name {
        case "strip", "lstrip", "rstrip":
            try arguments.check(name, accepts: ["chars"], at: location)
            return .string(stripped(text, characters: try stringArgument(0, "chars"), leading: name != "rstrip", trailing: name != "lstrip"))
        case "upper": return .string(text.uppercased())
        case "lower": return .string(text.lowercased())
        case "title": return .string(pythonTitle(text))
        case "capitalize": return .string(capitalized(text))
        case "startswith", "endswith":
            try arguments.check(name, accepts: ["prefix"], at: location)
            let candidates: [RuntimeValue]
            switch arguments.value(0, "prefix") {
            case .string?: candidates = [arguments.value(0, "prefix")!]
            case .tuple(let items)?: candidates = items
            default: throw .runtime("\(name) first arg must be str or a tuple of str", at: location)
            }
            return .bool(candidates.contains { candidate in
                guard case .string(let affix) = candidate else { return false }
                return name == "startswith" ? text.unicodeScalars.starts(with: affix.unicodeScalars)
                    : text.unicodeScalars.reversed().starts(with: affix.unicodeScalars.reversed())
            })
        case "split":
            try arguments.check(name, accepts: ["sep", "maxsplit"], at: location)
            let separator = try stringArgument(0, "sep")
            if separator?.isEmpty == true { throw .runtime("empty separator", at: location) }
            let limit = arguments.value(1, "maxsplit")?.integerValue ?? -1
            return .list(pythonSplit(text, separator: separator, limit: limit).map(RuntimeValue.string))
        case "replace":
            try arguments.check(name, accepts: ["old", "new", "count"], at: location)
            guard let old = try stringArgument(0, "old"), let new = try stringArgument(1, "new") else {
                throw .runtime("replace() needs the old and new strings", at: location)
            }
            return .string(replacing(old, with: new, in: text, limit: arguments.value(2, "count")?.integerValue ?? -1))
        case "find":
            guard let part = try stringArgument(0, "sub") else { throw .runtime("find() needs a string", at: location) }
            let scalars = Array(text.unicodeScalars), needle = Array(part.unicodeScalars)
            guard let range = scalars.firstRange(of: needle) else { return .int(-1) }
            return .int(range.lowerBound)
        case "join":
            let items = try iterate(arguments.value(0, "iterable") ?? .list([]), at: location)
            var parts: [String] = []
            for item in items {
                guard case .string(let part) = item else { throw .runtime("join() expects str items, found \(item.typeName)", at: location) }
                parts.append(part)
            }
            return .string(parts.joined(separator: text))
        default:
            return nil
        }
    }

    // MARK: Globals

    func callGlobal(_ name: String, with arguments: ArgumentValues, at location: TemplateSourceLocation) throws(ChatTemplateError) -> RuntimeValue {
        switch name {
        case "raise_exception":
            throw .raised(arguments.value(0, "message")?.pythonString ?? "", at: location)
        case "range":
            let bounds = arguments.positional.compactMap(\.integerValue)
            guard arguments.keywords.isEmpty, !bounds.isEmpty, bounds.count <= 3, bounds.count == arguments.positional.count else {
                throw .runtime("range() takes 1 to 3 integer arguments", at: location)
            }
            let (start, stop, step) = bounds.count == 1 ? (0, bounds[0], 1) : (bounds[0], bounds[1], bounds.count == 3 ? bounds[2] : 1)
            guard step != 0 else { throw .runtime("range() arg 3 must not be zero", at: location) }
            let values = Array(stride(from: start, to: stop, by: step))
            guard values.count <= TemplateMethods.maximumRange else {
                throw .runtime("range too big, maximum size is \(TemplateMethods.maximumRange)", at: location)
            }
            return .list(values.map(RuntimeValue.int))
        case "namespace", "dict":
            var attributes = RuntimeDictionary()
            for positional in arguments.positional {
                guard case .dict(let initial) = positional else { throw .runtime("\(name)() takes a mapping or keywords", at: location) }
                for key in initial.keys { attributes[key] = initial[key] }
            }
            for (key, value) in arguments.keywords { attributes[key] = value }
            if name == "namespace", let hidden = attributes.keys.first(where: { $0.hasPrefix("_") }) {
                throw underscoreAttributeError(hidden, at: location)
            }
            return name == "namespace" ? .namespace(NamespaceObject(attributes: attributes)) : .dict(attributes)
        default:
            guard let now else {
                throw .missingInput("strftime_now() needs the current date, and the template core reads no clock", at: location)
            }
            guard case .string(let format)? = arguments.positional.first else { throw .runtime("strftime_now() needs a format string", at: location) }
            do {
                return .string(try now.formatted(format))
            } catch {
                throw .unsupported("strftime directive '%\(error.directive)'", at: location)
            }
        }
    }
}

/// HF (transformers 5) refuses underscore-prefixed namespace attributes so templates cannot reach Python internals.
func underscoreAttributeError(_ name: String, at location: TemplateSourceLocation) -> ChatTemplateError {
    .runtime("Chat templates cannot store underscore-prefixed attributes on a namespace, but got '\(name)'", at: location)
}

// MARK: - String helpers

/// Python's `strip`/`lstrip`/`rstrip`: whitespace, or any of `characters`.
func stripped(_ text: String, characters: String?, leading: Bool, trailing: Bool) -> String {
    let scalars = Array(text.unicodeScalars)
    let set = characters.map { Set($0.unicodeScalars) }
    func strippable(_ scalar: Unicode.Scalar) -> Bool { set?.contains(scalar) ?? isPythonWhitespace(scalar) }
    var start = 0, end = scalars.count
    if leading { while start < end, strippable(scalars[start]) { start += 1 } }
    if trailing { while end > start, strippable(scalars[end - 1]) { end -= 1 } }
    return String(String.UnicodeScalarView(scalars[start..<end]))
}

/// Python's `str.split(sep, maxsplit)`.
func pythonSplit(_ text: String, separator: String?, limit: Int) -> [String] {
    let scalars = Array(text.unicodeScalars)
    var parts: [String] = []
    guard let separator else {
        var index = 0
        while index < scalars.count {
            while index < scalars.count, isPythonWhitespace(scalars[index]) { index += 1 }
            guard index < scalars.count else { break }
            if limit >= 0, parts.count == limit {
                parts.append(stripped(String(String.UnicodeScalarView(scalars[index...])), characters: nil, leading: false, trailing: true))
                break
            }
            let start = index
            while index < scalars.count, !isPythonWhitespace(scalars[index]) { index += 1 }
            parts.append(String(String.UnicodeScalarView(scalars[start..<index])))
        }
        return parts
    }
    let needle = Array(separator.unicodeScalars)
    var start = 0
    while limit < 0 || parts.count < limit, let range = scalars[start...].firstRange(of: needle) {
        parts.append(String(String.UnicodeScalarView(scalars[start..<range.lowerBound])))
        start = range.upperBound
    }
    parts.append(String(String.UnicodeScalarView(scalars[start...])))
    return parts
}

/// Python's `str.replace(old, new, count)`.
func replacing(_ old: String, with new: String, in text: String, limit: Int) -> String {
    if old.isEmpty {
        var result = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if limit < 0 || count < limit { result += new; count += 1 }
            result.unicodeScalars.append(scalar)
        }
        return limit < 0 || count < limit ? result + new : result
    }
    let pieces = pythonSplit(text, separator: old, limit: limit)
    return pieces.joined(separator: new)
}

/// Python's `str.capitalize()`: first character title-cased, the rest lower-cased.
func capitalized(_ text: String) -> String {
    guard let first = text.unicodeScalars.first else { return text }
    return first.properties.titlecaseMapping + String(String.UnicodeScalarView(text.unicodeScalars.dropFirst())).lowercased()
}

/// Python's `str.title()`: a cased character after a cased one is lower-cased, otherwise title-cased.
func pythonTitle(_ text: String) -> String {
    var result = ""
    var previousCased = false
    for scalar in text.unicodeScalars {
        if scalar.properties.isCased {
            result += previousCased ? scalar.properties.lowercaseMapping : scalar.properties.titlecaseMapping
            previousCased = true
        } else {
            result.unicodeScalars.append(scalar)
            previousCased = false
        }
    }
    return result
}

/// jinja2's `title` filter: words start after whitespace, `-`, `(`, `{`, `[` or `<`.
func jinjaTitle(_ text: String) -> String {
    var result = ""
    var atWordStart = true
    for scalar in text.unicodeScalars {
        if isPythonWhitespace(scalar) || "-({[<".unicodeScalars.contains(scalar) {
            result.unicodeScalars.append(scalar)
            atWordStart = true
        } else {
            result += atWordStart ? scalar.properties.uppercaseMapping : scalar.properties.lowercaseMapping
            atWordStart = false
        }
    }
    return result
}
