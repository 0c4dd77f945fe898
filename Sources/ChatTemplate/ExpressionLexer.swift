// ExpressionLexer: the tokens inside `{{ }}` and `{% %}` (names, strings, numbers, operators) up to the
// closing delimiter, which (as in jinja2) only counts while no bracket is open.

// MARK: - Tokens

/// One token of an expression or statement, with where it starts.
struct ExpressionToken: Sendable {
    enum Kind: Sendable, Equatable {
        case name(String)
        case string(String)
        case integer(Int)
        case float(Double)
        case symbol(String)
    }

    let kind: Kind
    let location: TemplateSourceLocation

    /// How the token reads in an error message.
    var spelling: String {
        switch kind {
        case .name(let name): return name
        case .string(let value): return "'\(value)'"
        case .integer(let value): return String(value)
        case .float(let value): return String(value)
        case .symbol(let symbol): return symbol
        }
    }
}

// MARK: - Lexer

struct ExpressionLexer {
    enum Closing { case output, statement }

    private static let twoCharacterSymbols: Set<String> = ["//", "**", "==", "!=", ">=", "<="]
    private static let oneCharacterSymbols: Set<Unicode.Scalar> = [
        "+", "-", "/", "*", "%", "~", "[", "]", "(", ")", "{", "}", ">", "<", "=", ".", ":", "|", ",", ";",
    ]

    let source: TemplateSource
    var position: Int

    init(source: TemplateSource, position: Int) {
        self.source = source
        self.position = position
    }

    /// Tokens up to the closing `}}` / `%}`; returns them, the offset after the close (and what it strips),
    /// and the offset of the close itself.
    mutating func tokensUntilClose(_ closing: Closing, tagStart: Int) throws(ChatTemplateError) -> ([ExpressionToken], Int, Int) {
        let scalars = source.scalars
        let closer = closing == .output ? "}}" : "%}"
        var tokens: [ExpressionToken] = []
        var openBrackets: [Unicode.Scalar] = []
        while true {
            while position < scalars.count, isPythonWhitespace(scalars[position]) { position += 1 }
            guard position < scalars.count else {
                throw .syntax("unclosed tag: missing '\(closer)'", at: source.location(tagStart))
            }
            if openBrackets.isEmpty, let end = closeEnd(closing) { return (tokens, end, position) }
            let token = try nextToken(after: tokens.last)
            if case .symbol(let symbol) = token.kind { try balance(symbol, &openBrackets, token.location) }
            tokens.append(token)
        }
    }

    // MARK: Closing delimiters

    private func closeEnd(_ closing: Closing) -> Int? {
        let scalars = source.scalars
        let closer = closing == .output ? "}}" : "%}"
        if scalars[position] == "-", source.matches(closer, at: position + 1) {
            var end = position + 3
            while end < scalars.count, isPythonWhitespace(scalars[end]) { end += 1 }
            return end
        }
        if closing == .statement, scalars[position] == "+", source.matches(closer, at: position + 1) { return position + 3 }
        guard source.matches(closer, at: position) else { return nil }
        if closing == .statement, position + 2 < scalars.count, scalars[position + 2] == "\n" { return position + 3 }
        return position + 2
    }

    private func balance(_ symbol: String, _ open: inout [Unicode.Scalar], _ location: TemplateSourceLocation) throws(ChatTemplateError) {
        let pairs: [String: Unicode.Scalar] = [")": "(", "]": "[", "}": "{"]
        if symbol == "(" || symbol == "[" || symbol == "{" {
            open.append(symbol.unicodeScalars.first!)
        } else if let opener = pairs[symbol] {
            guard open.last == opener else { throw .syntax("unexpected '\(symbol)'", at: location) }
            open.removeLast()
        }
    }

    // MARK: Tokens

    private mutating func nextToken(after previous: ExpressionToken?) throws(ChatTemplateError) -> ExpressionToken {
        let scalars = source.scalars
        let start = position
        let location = source.location(start)
        let scalar = scalars[start]
        if scalar == "_" || scalar.properties.isAlphabetic {
            while position < scalars.count,
                  scalars[position] == "_" || scalars[position].properties.isAlphabetic || scalars[position].properties.numericType != nil {
                position += 1
            }
            return ExpressionToken(kind: .name(source.string(start..<position)), location: location)
        }
        if ("0"..."9").contains(scalar) {
            var afterDot = false
            if let previous, case .symbol(".") = previous.kind { afterDot = true }
            return try number(start: start, location: location, allowFloat: !afterDot)
        }
        if scalar == "'" || scalar == "\"" { return try string(quote: scalar, location: location) }
        if start + 1 < scalars.count {
            let pair = source.string(start..<start + 2)
            if Self.twoCharacterSymbols.contains(pair) {
                position += 2
                return ExpressionToken(kind: .symbol(pair), location: location)
            }
        }
        if Self.oneCharacterSymbols.contains(scalar) {
            position += 1
            return ExpressionToken(kind: .symbol(String(scalar)), location: location)
        }
        throw .syntax("unexpected character '\(scalar)'", at: location)
    }

    /// Decimal digits with jinja2's `_` separators (`1_000`), returned without the separators.
    private mutating func digits() -> String {
        let scalars = source.scalars
        var text = ""
        while position < scalars.count {
            let scalar = scalars[position]
            let isSeparator = scalar == "_" && !text.isEmpty && position + 1 < scalars.count && ("0"..."9").contains(scalars[position + 1])
            guard isSeparator || ("0"..."9").contains(scalar) else { break }
            if !isSeparator { text.unicodeScalars.append(scalar) }
            position += 1
        }
        return text
    }

    private mutating func number(start: Int, location: TemplateSourceLocation, allowFloat: Bool) throws(ChatTemplateError) -> ExpressionToken {
        let scalars = source.scalars
        var text = digits()
        var isFloat = false
        if allowFloat, position + 1 < scalars.count, scalars[position] == ".", ("0"..."9").contains(scalars[position + 1]) {
            position += 1
            text += "." + digits()
            isFloat = true
        }
        if allowFloat, position < scalars.count, scalars[position] == "e" || scalars[position] == "E" {
            var probe = position + 1
            if probe < scalars.count, scalars[probe] == "+" || scalars[probe] == "-" { probe += 1 }
            if probe < scalars.count, ("0"..."9").contains(scalars[probe]) {
                let sign = probe > position + 1 ? String(scalars[position + 1]) : ""
                position = probe
                text += "e" + sign + digits()
                isFloat = true
            }
        }
        if isFloat, let value = Double(text) { return ExpressionToken(kind: .float(value), location: location) }
        guard let value = Int(text) else { throw .unsupported("integer literal '\(text)' out of range", at: location) }
        return ExpressionToken(kind: .integer(value), location: location)
    }

    /// A quoted string, decoded like Python's `unicode-escape` (unknown escapes keep their backslash).
    private mutating func string(quote: Unicode.Scalar, location: TemplateSourceLocation) throws(ChatTemplateError) -> ExpressionToken {
        let scalars = source.scalars
        position += 1
        var value = String.UnicodeScalarView()
        while position < scalars.count, scalars[position] != quote {
            let scalar = scalars[position]
            position += 1
            guard scalar == "\\", position < scalars.count else {
                value.append(scalar)
                continue
            }
            let escaped = scalars[position]
            position += 1
            switch escaped {
            case "n": value.append("\n")
            case "t": value.append("\t")
            case "r": value.append("\r")
            case "\\", "'", "\"": value.append(escaped)
            case "\n": break
            case "a": value.append("\u{07}")
            case "b": value.append("\u{08}")
            case "f": value.append("\u{0C}")
            case "v": value.append("\u{0B}")
            case "0"..."7":
                var code = escaped.value - 48
                var count = 1
                while count < 3, position < scalars.count, ("0"..."7").contains(scalars[position]) {
                    code = code * 8 + scalars[position].value - 48
                    position += 1
                    count += 1
                }
                value.append(Unicode.Scalar(code)!)
            case "x", "u", "U":
                let width = escaped == "x" ? 2 : escaped == "u" ? 4 : 8
                guard position + width <= scalars.count,
                      let code = UInt32(source.string(position..<position + width), radix: 16),
                      let decoded = Unicode.Scalar(code) else {
                    throw .syntax("bad \\\(escaped) escape in string literal", at: location)
                }
                position += width
                value.append(decoded)
            case "N":
                throw .unsupported("\\N{...} escape in string literal", at: location)
            default:
                value.append("\\")
                value.append(escaped)
            }
        }
        guard position < scalars.count else { throw .syntax("unterminated string literal", at: location) }
        position += 1
        return ExpressionToken(kind: .string(String(value)), location: location)
    }
}
