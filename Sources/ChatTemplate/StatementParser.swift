// StatementParser: builds the statement tree from the lexer's tokens: for/if/set/macro blocks and
// their end tags, loop controls, HF's `{% generation %}` marker; anything else fails with its location.

struct StatementParser {
    private let tokens: [TemplateToken]
    private var index = 0
    private var loopDepth = 0

    init(tokens: [TemplateToken]) { self.tokens = tokens }

    /// Parses the whole template; fails on an unclosed block or a stray end tag.
    static func parse(_ tokens: [TemplateToken]) throws(ChatTemplateError) -> [TemplateNode] {
        var parser = StatementParser(tokens: tokens)
        return try parser.parseBody(until: []).0
    }

    // MARK: Bodies

    /// The statement tag that ended a body (e.g. `elif`), with its parser positioned after the keyword.
    private struct Terminator {
        let keyword: String
        var parser: ExpressionParser
        let location: TemplateSourceLocation
    }

    private mutating func parseBody(until keywords: Set<String>, opener: (String, TemplateSourceLocation)? = nil) throws(ChatTemplateError) -> ([TemplateNode], Terminator?) {
        var nodes: [TemplateNode] = []
        while index < tokens.count {
            let token = tokens[index]
            index += 1
            switch token {
            case .text(let text):
                nodes.append(.text(text))
            case .output(let expressionTokens, let end, let location):
                var parser = ExpressionParser(tokens: expressionTokens, endLocation: end)
                guard !parser.isAtEnd else { throw .syntax("empty '{{ }}' tag", at: location) }
                let expression = try parser.parseTuple()
                try parser.expectEnd()
                nodes.append(.output(expression))
            case .statement(let expressionTokens, let end, let location):
                var parser = ExpressionParser(tokens: expressionTokens, endLocation: end)
                let keyword = try parser.expectName()
                if keywords.contains(keyword) {
                    return (nodes, Terminator(keyword: keyword, parser: parser, location: location))
                }
                if keyword.hasPrefix("end") || keyword == "elif" || keyword == "else" {
                    if let opener {
                        throw .syntax("unexpected '\(keyword)': the '\(opener.0)' block from \(opener.1) is still open", at: location)
                    }
                    throw .syntax("unexpected '\(keyword)' with no open block", at: location)
                }
                nodes.append(contentsOf: try parseStatement(keyword, &parser, location))
            }
        }
        return (nodes, nil)
    }

    /// A block's body up to one of `keywords`; an unclosed block is a syntax error at its opening tag.
    private mutating func parseBlockBody(until keywords: Set<String>, opener: (String, TemplateSourceLocation)) throws(ChatTemplateError) -> ([TemplateNode], Terminator) {
        let (body, terminator) = try parseBody(until: keywords, opener: opener)
        guard let terminator else {
            throw .syntax("unclosed '\(opener.0)' block: missing '{% end\(opener.0) %}'", at: opener.1)
        }
        return (body, terminator)
    }

    private mutating func parseStatement(_ keyword: String, _ parser: inout ExpressionParser, _ location: TemplateSourceLocation) throws(ChatTemplateError) -> [TemplateNode] {
        switch keyword {
        case "if": return [try parseIf(&parser, location)]
        case "for": return [try parseFor(&parser, location)]
        case "set": return [try parseSet(&parser, location)]
        case "macro": return [try parseMacro(&parser, location)]
        case "break", "continue":
            try parser.expectEnd()
            guard loopDepth > 0 else { throw .syntax("'\(keyword)' outside a for loop", at: location) }
            return [.loopControl(keyword == "break" ? .breakLoop : .continueLoop, at: location)]
        case "generation":
            try parser.expectEnd()
            let (body, terminator) = try parseBlockBody(until: ["endgeneration"], opener: (keyword, location))
            try terminator.parser.expectEnd()
            return body
        default:
            throw .unsupported("unsupported statement '\(keyword)'", at: location)
        }
    }

    // MARK: Statements

    private mutating func parseIf(_ parser: inout ExpressionParser, _ location: TemplateSourceLocation) throws(ChatTemplateError) -> TemplateNode {
        var condition = try parser.parseTuple(withCondition: false)
        try parser.expectEnd()
        var branches: [ConditionalBranch] = []
        while true {
            var (body, terminator) = try parseBlockBody(until: ["elif", "else", "endif"], opener: ("if", location))
            branches.append(ConditionalBranch(condition: condition, body: body))
            switch terminator.keyword {
            case "elif":
                condition = try terminator.parser.parseTuple(withCondition: false)
                try terminator.parser.expectEnd()
            case "else":
                try terminator.parser.expectEnd()
                let (otherwise, end) = try parseBlockBody(until: ["endif"], opener: ("if", location))
                try end.parser.expectEnd()
                return .conditional(branches, otherwise: otherwise)
            default:
                try terminator.parser.expectEnd()
                return .conditional(branches, otherwise: [])
            }
        }
    }

    private mutating func parseFor(_ parser: inout ExpressionParser, _ location: TemplateSourceLocation) throws(ChatTemplateError) -> TemplateNode {
        var targets = [try parser.expectName()]
        var unpacks = false
        while parser.skipSymbol(",") {
            unpacks = true
            if parser.isName("in") { break }
            targets.append(try parser.expectName())
        }
        guard parser.skipName("in") else { throw parser.unexpected(expecting: "'in'") }
        let iterable = try parser.parseTuple(withCondition: false, endNames: ["recursive"])
        let filter = parser.skipName("if") ? try parser.parseExpression() : nil
        if parser.isName("recursive") { throw .unsupported("unsupported recursive for loop", at: parser.currentLocation) }
        try parser.expectEnd()
        loopDepth += 1
        let (body, terminator) = try parseBlockBody(until: ["else", "endfor"], opener: ("for", location))
        loopDepth -= 1
        try terminator.parser.expectEnd()
        var otherwise: [TemplateNode] = []
        if terminator.keyword == "else" {
            let (elseBody, end) = try parseBlockBody(until: ["endfor"], opener: ("for", location))
            try end.parser.expectEnd()
            otherwise = elseBody
        }
        return .loop(ForLoop(targets: targets, unpacks: unpacks, iterable: iterable, filter: filter,
                             body: body, otherwise: otherwise, location: location))
    }

    private mutating func parseSet(_ parser: inout ExpressionParser, _ location: TemplateSourceLocation) throws(ChatTemplateError) -> TemplateNode {
        let first = try parser.expectName()
        var target = AssignmentTarget.name(first)
        if parser.skipSymbol(".") {
            target = .namespaceAttribute(namespace: first, attribute: try parser.expectName())
        } else if parser.isSymbol(",") {
            var names = [first]
            while parser.skipSymbol(",") { names.append(try parser.expectName()) }
            target = .names(names)
        }
        if parser.skipSymbol("=") {
            let value = try parser.parseTuple()
            try parser.expectEnd()
            return .assignment(target, value, at: location)
        }
        guard case .name(let name) = target, parser.isAtEnd else {
            if parser.isSymbol("|") { throw .unsupported("filters on a '{% set %}' block", at: parser.currentLocation) }
            throw parser.unexpected(expecting: "'='")
        }
        let (body, terminator) = try parseBlockBody(until: ["endset"], opener: ("set", location))
        try terminator.parser.expectEnd()
        return .capture(name: name, body: body)
    }

    private mutating func parseMacro(_ parser: inout ExpressionParser, _ location: TemplateSourceLocation) throws(ChatTemplateError) -> TemplateNode {
        let name = try parser.expectName()
        try parser.expectSymbol("(")
        var parameters: [MacroParameter] = []
        while !parser.isSymbol(")") {
            let parameter = try parser.expectName()
            let defaultValue = parser.skipSymbol("=") ? try parser.parseExpression() : nil
            parameters.append(MacroParameter(name: parameter, defaultValue: defaultValue))
            guard parser.skipSymbol(",") else { break }
        }
        try parser.expectSymbol(")")
        try parser.expectEnd()
        let outerLoopDepth = loopDepth
        loopDepth = 0
        let (body, terminator) = try parseBlockBody(until: ["endmacro"], opener: ("macro", location))
        loopDepth = outerLoopDepth
        try terminator.parser.expectEnd()
        return .macro(MacroDefinition(name: name, parameters: parameters, body: body))
    }
}
