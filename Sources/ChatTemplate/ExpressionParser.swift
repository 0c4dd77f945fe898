// ExpressionParser: turns the tokens of one tag into expressions, following jinja2's grammar and
// precedence (condexpr < or < and < not < compare < + - < ~ < * / // % < ** < unary < filters/tests).

struct ExpressionParser {
    let tokens: [ExpressionToken]
    let endLocation: TemplateSourceLocation
    var index = 0

    init(tokens: [ExpressionToken], endLocation: TemplateSourceLocation) {
        self.tokens = tokens
        self.endLocation = endLocation
    }

    // MARK: Cursor

    var isAtEnd: Bool { index >= tokens.count }
    var current: ExpressionToken? { index < tokens.count ? tokens[index] : nil }
    var currentLocation: TemplateSourceLocation { current?.location ?? endLocation }

    func isSymbol(_ symbol: String, offset: Int = 0) -> Bool {
        guard index + offset < tokens.count, case .symbol(let found) = tokens[index + offset].kind else { return false }
        return found == symbol
    }

    func isName(_ name: String, offset: Int = 0) -> Bool {
        guard index + offset < tokens.count, case .name(let found) = tokens[index + offset].kind else { return false }
        return found == name
    }

    mutating func skipSymbol(_ symbol: String) -> Bool {
        guard isSymbol(symbol) else { return false }
        index += 1
        return true
    }

    mutating func skipName(_ name: String) -> Bool {
        guard isName(name) else { return false }
        index += 1
        return true
    }

    mutating func expectSymbol(_ symbol: String) throws(ChatTemplateError) {
        guard skipSymbol(symbol) else { throw unexpected(expecting: "'\(symbol)'") }
    }

    mutating func expectName() throws(ChatTemplateError) -> String {
        guard let token = current, case .name(let name) = token.kind else { throw unexpected(expecting: "a name") }
        index += 1
        return name
    }

    func unexpected(expecting: String) -> ChatTemplateError {
        guard let token = current else { return .syntax("expected \(expecting), got end of tag", at: endLocation) }
        return .syntax("expected \(expecting), got '\(token.spelling)'", at: token.location)
    }

    func expectEnd() throws(ChatTemplateError) {
        guard isAtEnd else { throw unexpected(expecting: "end of tag") }
    }

    // MARK: Entry points

    /// `a, b` becomes a tuple; a single expression without a trailing comma stays itself.
    mutating func parseTuple(withCondition: Bool = true, endNames: Set<String> = []) throws(ChatTemplateError) -> TemplateExpression {
        let location = currentLocation
        var items: [TemplateExpression] = []
        var sawComma = false
        while !isAtEnd, !isSymbol(")"), !endNames.contains(where: { isName($0) }) {
            items.append(withCondition ? try parseExpression() : try parseOr())
            guard skipSymbol(",") else { break }
            sawComma = true
        }
        if items.count == 1, !sawComma { return items[0] }
        if items.isEmpty, !isSymbol(")") { throw unexpected(expecting: "an expression") }
        return TemplateExpression(kind: .tuple(items), location: location)
    }

    mutating func parseExpression() throws(ChatTemplateError) -> TemplateExpression {
        var expression = try parseOr()
        while isName("if") {
            let location = currentLocation
            index += 1
            let condition = try parseOr()
            let otherwise = skipName("else") ? try parseExpression() : nil
            expression = TemplateExpression(kind: .conditional(condition: condition, then: expression, otherwise: otherwise), location: location)
        }
        return expression
    }

    // MARK: Boolean and comparison

    private mutating func parseOr() throws(ChatTemplateError) -> TemplateExpression {
        var left = try parseAnd()
        while isName("or") {
            index += 1
            left = TemplateExpression(kind: .or(left, try parseAnd()), location: left.location)
        }
        return left
    }

    private mutating func parseAnd() throws(ChatTemplateError) -> TemplateExpression {
        var left = try parseNot()
        while isName("and") {
            index += 1
            left = TemplateExpression(kind: .and(left, try parseNot()), location: left.location)
        }
        return left
    }

    private mutating func parseNot() throws(ChatTemplateError) -> TemplateExpression {
        if isName("not") {
            let location = currentLocation
            index += 1
            return TemplateExpression(kind: .not(try parseNot()), location: location)
        }
        return try parseComparison()
    }

    private mutating func parseComparison() throws(ChatTemplateError) -> TemplateExpression {
        let left = try parseAddition()
        var steps: [ComparisonStep] = []
        while true {
            if let token = current, case .symbol(let symbol) = token.kind, let comparison = ComparisonOperator(rawValue: symbol),
               comparison != .contains, comparison != .notContains {
                index += 1
                steps.append(ComparisonStep(comparison: comparison, operand: try parseAddition()))
            } else if skipName("in") {
                steps.append(ComparisonStep(comparison: .contains, operand: try parseAddition()))
            } else if isName("not"), isName("in", offset: 1) {
                index += 2
                steps.append(ComparisonStep(comparison: .notContains, operand: try parseAddition()))
            } else {
                break
            }
        }
        return steps.isEmpty ? left : TemplateExpression(kind: .comparison(left, steps), location: left.location)
    }

    // MARK: Arithmetic

    private mutating func parseAddition() throws(ChatTemplateError) -> TemplateExpression {
        var left = try parseConcatenation()
        while isSymbol("+") || isSymbol("-") {
            let operation: ArithmeticOperator = isSymbol("+") ? .add : .subtract
            index += 1
            left = TemplateExpression(kind: .arithmetic(operation, left, try parseConcatenation()), location: left.location)
        }
        return left
    }

    private mutating func parseConcatenation() throws(ChatTemplateError) -> TemplateExpression {
        let first = try parseMultiplication()
        var parts = [first]
        while skipSymbol("~") { parts.append(try parseMultiplication()) }
        return parts.count == 1 ? first : TemplateExpression(kind: .concatenate(parts), location: first.location)
    }

    private mutating func parseMultiplication() throws(ChatTemplateError) -> TemplateExpression {
        var left = try parsePower()
        while let token = current, case .symbol(let symbol) = token.kind,
              let operation = ArithmeticOperator(rawValue: symbol), [.multiply, .divide, .floorDivide, .modulo].contains(operation) {
            index += 1
            left = TemplateExpression(kind: .arithmetic(operation, left, try parsePower()), location: left.location)
        }
        return left
    }

    private mutating func parsePower() throws(ChatTemplateError) -> TemplateExpression {
        var left = try parseUnary(withFilters: true)
        while skipSymbol("**") {
            left = TemplateExpression(kind: .arithmetic(.power, left, try parseUnary(withFilters: true)), location: left.location)
        }
        return left
    }

    private mutating func parseUnary(withFilters: Bool) throws(ChatTemplateError) -> TemplateExpression {
        let location = currentLocation
        var expression: TemplateExpression
        if skipSymbol("-") {
            expression = TemplateExpression(kind: .negate(try parseUnary(withFilters: false)), location: location)
        } else if skipSymbol("+") {
            expression = TemplateExpression(kind: .unaryPlus(try parseUnary(withFilters: false)), location: location)
        } else {
            expression = try parsePostfix(try parsePrimary())
        }
        return withFilters ? try parseFiltersAndTests(expression) : expression
    }
}
