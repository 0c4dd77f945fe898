// PythonFormatting: turns runtime values into text the way Python does, since jinja2 prints with str()
// and HF's tojson is json.dumps(ensure_ascii=False): `True`, `None`, `['a', 1]`, `{"k": null}`, `1e-05`.

// MARK: - str() and repr()

extension RuntimeValue {
    /// Python's `str(value)`; Undefined prints as the empty string.
    var pythonString: String {
        switch self {
        case .string(let string): return string
        case .undefined: return ""
        default: return pythonRepr
        }
    }

    /// Python's `repr(value)`, used inside printed lists and dicts.
    var pythonRepr: String {
        switch self {
        case .string(let string): return pythonQuoted(string)
        case .int(let int): return String(int)
        case .double(let double): return pythonFloat(double)
        case .bool(let bool): return bool ? "True" : "False"
        case .none: return "None"
        case .list(let list): return "[" + list.map(\.pythonRepr).joined(separator: ", ") + "]"
        case .tuple(let items): return "(" + items.map(\.pythonRepr).joined(separator: ", ") + (items.count == 1 ? ",)" : ")")
        case .dict(let dictionary):
            let entries = dictionary.keys.map { pythonQuoted($0) + ": " + dictionary[$0]!.pythonRepr }
            return "{" + entries.joined(separator: ", ") + "}"
        case .iterator(let iterator):
            guard iterator.kind.isView, case .success(let items) = iterator.contents else { return "<\(iterator.kind.rawValue) object>" }
            return iterator.kind.rawValue + "(" + RuntimeValue.list(items).pythonRepr + ")"
        case .undefined: return "Undefined"
        case .namespace(let namespace): return "<Namespace " + RuntimeValue.dict(namespace.attributes).pythonRepr + ">"
        case .loop(let loop): return "<LoopContext \(loop.index0 + 1)/\(loop.items.count)>"
        case .callable(let callable):
            switch callable {
            case .global(let name), .method(_, let name): return "<built-in function \(name)>"
            case .macro(let macro): return "<Macro '\(macro.name)'>"
            }
        }
    }
}

/// Python's float repr: shortest round-trip digits, `inf`, `nan`, `1e-05`, `1e+16`, `2.0`.
func pythonFloat(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    return value.description
}

/// Python's repr of a string: single quotes unless the text holds a single quote and no double quote.
func pythonQuoted(_ string: String) -> String {
    let quote: Unicode.Scalar = string.contains("'") && !string.contains("\"") ? "\"" : "'"
    var result = String.UnicodeScalarView([quote])
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\\": result.append(contentsOf: "\\\\".unicodeScalars)
        case "\n": result.append(contentsOf: "\\n".unicodeScalars)
        case "\r": result.append(contentsOf: "\\r".unicodeScalars)
        case "\t": result.append(contentsOf: "\\t".unicodeScalars)
        case quote: result.append(contentsOf: ["\\", quote])
        default:
            if scalar.value < 0x20 || scalar.value == 0x7F {
                result.append(contentsOf: "\\x\(hexDigits(scalar.value, width: 2))".unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
    }
    result.append(quote)
    return String(result)
}

private func hexDigits(_ value: UInt32, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}

// MARK: - JSON (HF's tojson)

/// The options of HF's `tojson` filter, which calls `json.dumps(x, ensure_ascii=False, …)`.
struct JSONStyle {
    var indent: Int?
    var itemSeparator: String?
    var keySeparator: String?
    var sortKeys = false
}

enum JSONEncodingFailure: Error {
    case notSerializable(String)
}

extension RuntimeValue {
    /// `json.dumps(self, ensure_ascii=False, indent=…, separators=…, sort_keys=…)`.
    func jsonText(_ style: JSONStyle) throws(JSONEncodingFailure) -> String {
        var output = ""
        try writeJSON(into: &output, style: style, depth: 0)
        return output
    }

    private func writeJSON(into output: inout String, style: JSONStyle, depth: Int) throws(JSONEncodingFailure) {
        let itemSeparator = style.itemSeparator ?? (style.indent == nil ? ", " : ",")
        let keySeparator = style.keySeparator ?? ": "
        func newline(_ level: Int) -> String {
            guard let indent = style.indent else { return "" }
            return "\n" + String(repeating: " ", count: indent * level)
        }
        switch self {
        case .string(let string): output += jsonQuoted(string)
        case .int(let int): output += String(int)
        case .double(let double):
            if double.isNaN { output += "NaN" } else if double.isInfinite { output += double < 0 ? "-Infinity" : "Infinity" } else { output += pythonFloat(double) }
        case .bool(let bool): output += bool ? "true" : "false"
        case .none: output += "null"
        case .list(let list), .tuple(let list):
            guard !list.isEmpty else { output += "[]"; return }
            output += "["
            for (position, item) in list.enumerated() {
                if position > 0 { output += itemSeparator }
                output += newline(depth + 1)
                try item.writeJSON(into: &output, style: style, depth: depth + 1)
            }
            output += newline(depth) + "]"
        case .dict(let dictionary):
            try Self.writeJSONObject(dictionary, into: &output, style: style, depth: depth,
                                     separators: (itemSeparator, keySeparator), newline: newline)
        case .namespace, .loop, .callable, .undefined, .iterator:
            throw .notSerializable(typeName)
        }
    }

    private static func writeJSONObject(_ dictionary: RuntimeDictionary, into output: inout String, style: JSONStyle, depth: Int,
                                        separators: (item: String, key: String), newline: (Int) -> String) throws(JSONEncodingFailure) {
        guard dictionary.count > 0 else { output += "{}"; return }
        let keys = style.sortKeys ? dictionary.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) } : dictionary.keys
        output += "{"
        for (position, key) in keys.enumerated() {
            if position > 0 { output += separators.item }
            output += newline(depth + 1) + jsonQuoted(key) + separators.key
            try dictionary[key]!.writeJSON(into: &output, style: style, depth: depth + 1)
        }
        output += newline(depth) + "}"
    }
}

/// A JSON string as Python's json module writes it with ensure_ascii=False.
private func jsonQuoted(_ string: String) -> String {
    var result = String.UnicodeScalarView(["\""])
    for scalar in string.unicodeScalars {
        switch scalar {
        case "\"": result.append(contentsOf: "\\\"".unicodeScalars)
        case "\\": result.append(contentsOf: "\\\\".unicodeScalars)
        case "\n": result.append(contentsOf: "\\n".unicodeScalars)
        case "\r": result.append(contentsOf: "\\r".unicodeScalars)
        case "\t": result.append(contentsOf: "\\t".unicodeScalars)
        case "\u{08}": result.append(contentsOf: "\\b".unicodeScalars)
        case "\u{0C}": result.append(contentsOf: "\\f".unicodeScalars)
        default:
            if scalar.value < 0x20 {
                result.append(contentsOf: "\\u\(hexDigits(scalar.value, width: 4))".unicodeScalars)
            } else {
                result.append(scalar)
            }
        }
    }
    result.append("\"")
    return String(result)
}
