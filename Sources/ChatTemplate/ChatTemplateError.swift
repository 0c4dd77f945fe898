// ChatTemplateError: everything that can go wrong parsing or rendering a chat template, with where it
// happened in the template source and a hint for the person who has to fix it.

// MARK: - Location

/// A position in a template's source: 1-based line and column (columns count Unicode scalars).
public struct TemplateSourceLocation: Sendable, Equatable, CustomStringConvertible {
    public let line: Int
    public let column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column)" }
}

// MARK: - Error

/// Why a chat template could not be parsed or rendered. Nothing is rendered when one is thrown.
public enum ChatTemplateError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The source is not valid jinja2 (unclosed block, unexpected token, bad literal, …).
    case syntax(String, at: TemplateSourceLocation)
    /// Valid jinja2 that this interpreter does not implement (a filter, test, statement or method).
    case unsupported(String, at: TemplateSourceLocation)
    /// Rendering failed where jinja2 would raise too (undefined value used, type mismatch, …).
    case runtime(String, at: TemplateSourceLocation)
    /// The template needs something the caller did not pass (the date for `strftime_now`).
    case missingInput(String, at: TemplateSourceLocation)
    /// The template itself called `raise_exception(message)`, e.g. Mistral's role alternation check.
    case raised(String, at: TemplateSourceLocation)

    /// The message without its location; for `.raised`, exactly the template's message.
    public var message: String {
        switch self {
        case .syntax(let message, _), .unsupported(let message, _), .runtime(let message, _), .missingInput(let message, _),
             .raised(let message, _):
            return message
        }
    }

    /// Where in the template source the problem is.
    public var location: TemplateSourceLocation {
        switch self {
        case .syntax(_, let at), .unsupported(_, let at), .runtime(_, let at), .missingInput(_, let at), .raised(_, let at):
            return at
        }
    }

    /// What to do about it.
    public var hint: String {
        switch self {
        case .syntax: return "the template is not valid jinja2; check the model's tokenizer_config.json chat_template"
        case .unsupported: return "this jinja2 construct is not implemented by Proxima's chat template interpreter; extend Sources/Tokenizer/ChatTemplate or use a simpler template"
        case .runtime: return "jinja2 would fail here too; check the messages and variables passed to the template"
        case .missingInput: return "pass what the template needs to ChatTemplate.render (in `variables`, or the date as `now:`)"
        case .raised: return "the template rejected the conversation; fix the messages (roles, order) to satisfy it"
        }
    }

    public var description: String { "\(message) at \(location) (\(hint))" }
}
