// TemplateSyntax: the parsed form of a chat template (statements and expressions), built once at init
// and walked by the renderer for every conversation.

// MARK: - Statements

/// A statement or piece of output, in template order.
indirect enum TemplateNode: Sendable {
    case text(String)
    case output(TemplateExpression)
    case conditional([ConditionalBranch], otherwise: [TemplateNode])
    case loop(ForLoop)
    case assignment(AssignmentTarget, TemplateExpression, at: TemplateSourceLocation)
    case capture(name: String, body: [TemplateNode])
    case loopControl(LoopControl, at: TemplateSourceLocation)
    case macro(MacroDefinition)
}

struct ConditionalBranch: Sendable {
    let condition: TemplateExpression
    let body: [TemplateNode]
}

/// `{% for targets in iterable if filter %} body {% else %} otherwise {% endfor %}`.
struct ForLoop: Sendable {
    let targets: [String]
    let unpacks: Bool
    let iterable: TemplateExpression
    let filter: TemplateExpression?
    let body: [TemplateNode]
    let otherwise: [TemplateNode]
    let location: TemplateSourceLocation
}

/// The left side of `{% set … = … %}`.
enum AssignmentTarget: Sendable {
    case name(String)
    case names([String])
    case namespaceAttribute(namespace: String, attribute: String)
}

enum LoopControl: Sendable { case breakLoop, continueLoop }

/// `{% macro name(parameters) %} body {% endmacro %}`.
struct MacroDefinition: Sendable {
    let name: String
    let parameters: [MacroParameter]
    let body: [TemplateNode]
}

struct MacroParameter: Sendable {
    let name: String
    let defaultValue: TemplateExpression?
}

// MARK: - Expressions

/// A constant written in the template.
enum LiteralValue: Sendable {
    case string(String)
    case int(Int)
    case double(Double)
    case bool(Bool)
    case none
}

/// Positional and keyword arguments of a call, filter or test.
struct CallArguments: Sendable {
    var positional: [TemplateExpression] = []
    var keywords: [(name: String, value: TemplateExpression)] = []

    static let empty = CallArguments()
}

enum ArithmeticOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", floorDivide = "//", modulo = "%", power = "**"
}

enum ComparisonOperator: String, Sendable {
    case equal = "==", notEqual = "!=", less = "<", lessOrEqual = "<=", greater = ">", greaterOrEqual = ">="
    case contains = "in", notContains = "not in"
}

struct ComparisonStep: Sendable {
    let comparison: ComparisonOperator
    let operand: TemplateExpression
}

struct DictionaryEntry: Sendable {
    let key: TemplateExpression
    let value: TemplateExpression
}

/// An expression and where it starts (for error messages).
struct TemplateExpression: Sendable {
    indirect enum Kind: Sendable {
        case literal(LiteralValue)
        case variable(String)
        case list([TemplateExpression])
        case tuple([TemplateExpression])
        case dictionary([DictionaryEntry])
        case attribute(TemplateExpression, String)
        case item(TemplateExpression, TemplateExpression)
        case slice(TemplateExpression, start: TemplateExpression?, stop: TemplateExpression?, step: TemplateExpression?)
        case call(TemplateExpression, CallArguments)
        case filter(TemplateExpression, name: String, CallArguments)
        case test(TemplateExpression, name: String, CallArguments, negated: Bool)
        case not(TemplateExpression)
        case negate(TemplateExpression)
        case unaryPlus(TemplateExpression)
        case arithmetic(ArithmeticOperator, TemplateExpression, TemplateExpression)
        case and(TemplateExpression, TemplateExpression)
        case or(TemplateExpression, TemplateExpression)
        case concatenate([TemplateExpression])
        case comparison(TemplateExpression, [ComparisonStep])
        case conditional(condition: TemplateExpression, then: TemplateExpression, otherwise: TemplateExpression?)
    }

    let kind: Kind
    let location: TemplateSourceLocation
}
