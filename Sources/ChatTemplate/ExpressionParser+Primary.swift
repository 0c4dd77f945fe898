// ExpressionParser+Primary: literals, names, brackets, then the postfix chain of attribute access,
// subscripts, slices, calls, `|filter`s and `is test`s; unknown filters and tests fail here, at init.

extension ExpressionParser {
    // MARK: Primary

    mutating func parsePrimary() throws(ChatTemplateError) -> TemplateExpression {
        guard let token = current else { throw unexpected(expecting: "an expression") }
        let location = token.location
        switch token.kind {
        case .name(let name):
            index += 1
            switch name {
            case "true", "True": return TemplateExpression(kind: .literal(.bool(true)), location: location)
            case "false", "False": return TemplateExpression(kind: .literal(.bool(false)), location: location)
            case "none", "None": return TemplateExpression(kind: .literal(.none), location: location)
            default: return TemplateExpression(kind: .variable(name), location: location)
            }
        case .string(var value):
            index += 1
            while let next = current, case .string(let more) = next.kind {
                value += more
                index += 1
            }
            return TemplateExpression(kind: .literal(.string(value)), location: location)
        case .integer(let value):
            index += 1
            return TemplateExpression(kind: .literal(.int(value)), location: location)
        case .float(let value):
            index += 1
            return TemplateExpression(kind: .literal(.double(value)), location: location)
        case .symbol("("):
            index += 1
            let inner = try parseTuple()
            try expectSymbol(")")
            return inner
        case .symbol("["):
            index += 1
            var items: [TemplateExpression] = []
            while !isSymbol("]") {
                items.append(try parseExpression())
                guard skipSymbol(",") else { break }
            }
            try expectSymbol("]")
            return TemplateExpression(kind: .list(items), location: location)
        case .symbol("{"):
            index += 1
            var entries: [DictionaryEntry] = []
            while !isSymbol("}") {
                let key = try parseExpression()
                try expectSymbol(":")
                entries.append(DictionaryEntry(key: key, value: try parseExpression()))
                guard skipSymbol(",") else { break }
            }
            try expectSymbol("}")
            return TemplateExpression(kind: .dictionary(entries), location: location)
        default:
            throw unexpected(expecting: "an expression")
        }
    }

    // MARK: Postfix

    mutating func parsePostfix(_ base: TemplateExpression) throws(ChatTemplateError) -> TemplateExpression {
        var expression = base
        while let token = current {
            if skipSymbol(".") {
                guard let next = current else { throw unexpected(expecting: "an attribute name") }
                index += 1
                switch next.kind {
                case .name(let name):
                    expression = TemplateExpression(kind: .attribute(expression, name), location: token.location)
                case .integer(let value):
                    let key = TemplateExpression(kind: .literal(.int(value)), location: next.location)
                    expression = TemplateExpression(kind: .item(expression, key), location: token.location)
                default:
                    index -= 1
                    throw unexpected(expecting: "an attribute name")
                }
            } else if skipSymbol("[") {
                expression = try parseSubscript(of: expression, location: token.location)
            } else if skipSymbol("(") {
                expression = TemplateExpression(kind: .call(expression, try parseCallArguments()), location: token.location)
            } else {
                break
            }
        }
        return expression
    }

    private mutating func parseSubscript(of base: TemplateExpression, location: TemplateSourceLocation) throws(ChatTemplateError) -> TemplateExpression {
        var start: TemplateExpression?
        if !isSymbol(":") {
            start = try parseExpression()
            if skipSymbol("]") { return TemplateExpression(kind: .item(base, start!), location: location) }
        }
        try expectSymbol(":")
        let stop = isSymbol(":") || isSymbol("]") ? nil : try parseExpression()
        var step: TemplateExpression?
        if skipSymbol(":"), !isSymbol("]") { step = try parseExpression() }
        try expectSymbol("]")
        return TemplateExpression(kind: .slice(base, start: start, stop: stop, step: step), location: location)
    }

    /// The arguments after an opening `(`, through the closing `)`.
    mutating func parseCallArguments() throws(ChatTemplateError) -> CallArguments {
        var arguments = CallArguments()
        while !isSymbol(")") {
            if isSymbol("*") || isSymbol("**") {
                throw .unsupported("'*' and '**' argument unpacking", at: currentLocation)
            }
            if let token = current, case .name(let name) = token.kind, isSymbol("=", offset: 1) {
                index += 2
                arguments.keywords.append((name, try parseExpression()))
            } else {
                guard arguments.keywords.isEmpty else {
                    throw .syntax("positional argument after keyword argument", at: currentLocation)
                }
                arguments.positional.append(try parseExpression())
            }
            guard skipSymbol(",") else { break }
        }
        try expectSymbol(")")
        return arguments
    }

    // MARK: Filters and tests

    mutating func parseFiltersAndTests(_ base: TemplateExpression) throws(ChatTemplateError) -> TemplateExpression {
        var expression = base
        while true {
            if isSymbol("|") {
                index += 1
                let location = currentLocation
                let name = try parseDottedName()
                guard TemplateFilters.supportedNames.contains(name) else {
                    throw .unsupported("unsupported filter '\(name)'", at: location)
                }
                let arguments = skipSymbol("(") ? try parseCallArguments() : .empty
                expression = TemplateExpression(kind: .filter(expression, name: name, arguments), location: location)
            } else if isName("is") {
                index += 1
                let negated = skipName("not")
                let location = currentLocation
                let name = try parseDottedName()
                guard TemplatePredicates.supportedNames.contains(name) else {
                    throw .unsupported("unsupported test '\(name)'", at: location)
                }
                let arguments = try parseTestArguments()
                expression = TemplateExpression(kind: .test(expression, name: name, arguments, negated: negated), location: location)
            } else if isSymbol("(") {
                let location = currentLocation
                index += 1
                expression = TemplateExpression(kind: .call(expression, try parseCallArguments()), location: location)
            } else {
                return expression
            }
        }
    }

    private mutating func parseDottedName() throws(ChatTemplateError) -> String {
        var name = try expectName()
        while isSymbol("."), index + 1 < tokens.count, case .name(let part) = tokens[index + 1].kind {
            index += 2
            name += "." + part
        }
        return name
    }

    /// jinja2 lets a test take one argument without parentheses: `is divisibleby 3`, `is equalto 'x'`.
    private mutating func parseTestArguments() throws(ChatTemplateError) -> CallArguments {
        if skipSymbol("(") { return try parseCallArguments() }
        guard let token = current else { return .empty }
        switch token.kind {
        case .name(let name) where ["else", "or", "and"].contains(name): return .empty
        case .name("is"): throw .syntax("tests cannot be chained with 'is'", at: token.location)
        case .name, .string, .integer, .float, .symbol("["), .symbol("{"):
            var arguments = CallArguments()
            arguments.positional = [try parsePostfix(try parsePrimary())]
            return arguments
        default:
            return .empty
        }
    }
}
