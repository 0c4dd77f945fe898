// TemplateLexer: splits template source into text, `{{ }}` outputs and `{% %}` statements, dropping
// `{# #}` comments and applying jinja2's whitespace rules exactly as Hugging Face configures them.
//
// HF compiles chat templates with trim_blocks=True and lstrip_blocks=True (transformers'
// _compile_jinja_template), and jinja2 drops one trailing newline (keep_trailing_newline=False):
// - `{%-` / `{{-` / `{#-` strip all whitespace before the tag; `-%}` / `-}}` / `-#}` all whitespace after.
// - trim_blocks: one newline right after `%}` or `#}` is removed (not after `}}`); `+%}` keeps it.
// - lstrip_blocks: spaces/tabs between a line start and `{%` or `{#` are removed (not before `{{`);
//   `{%+` keeps them.

// MARK: - Tokens

/// One piece of a template: literal text, an output tag, or a statement tag with its expression tokens.
enum TemplateToken {
    case text(String)
    case output([ExpressionToken], end: TemplateSourceLocation, at: TemplateSourceLocation)
    case statement([ExpressionToken], end: TemplateSourceLocation, at: TemplateSourceLocation)
}

// MARK: - Source

/// The normalised source as Unicode scalars, with line starts for turning offsets into locations.
struct TemplateSource {
    let scalars: [Unicode.Scalar]
    private let lineStarts: [Int]

    /// Normalises `\r\n` and `\r` to `\n` and drops one trailing newline, as jinja2's lexer does.
    init(_ text: String) {
        var scalars: [Unicode.Scalar] = []
        scalars.reserveCapacity(text.unicodeScalars.count)
        var previousWasCarriageReturn = false
        for scalar in text.unicodeScalars {
            if scalar == "\r" {
                scalars.append("\n")
                previousWasCarriageReturn = true
                continue
            }
            if !(scalar == "\n" && previousWasCarriageReturn) { scalars.append(scalar) }
            previousWasCarriageReturn = false
        }
        if scalars.last == "\n" { scalars.removeLast() }
        self.scalars = scalars
        var starts = [0]
        for (offset, scalar) in scalars.enumerated() where scalar == "\n" { starts.append(offset + 1) }
        lineStarts = starts
    }

    func location(_ offset: Int) -> TemplateSourceLocation {
        var low = 0, high = lineStarts.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if lineStarts[middle] <= offset { low = middle } else { high = middle - 1 }
        }
        return TemplateSourceLocation(line: low + 1, column: offset - lineStarts[low] + 1)
    }

    func string(_ range: Range<Int>) -> String {
        var result = String.UnicodeScalarView()
        result.append(contentsOf: scalars[range])
        return String(result)
    }

    func matches(_ literal: String, at offset: Int) -> Bool {
        var index = offset
        for scalar in literal.unicodeScalars {
            guard index < scalars.count, scalars[index] == scalar else { return false }
            index += 1
        }
        return true
    }
}

/// Python's `str.isspace` (what `\s`, `strip()` and `rstrip()` use in jinja2).
func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
    scalar.properties.isWhitespace || (0x1C...0x1F).contains(scalar.value)
}

// MARK: - Lexer

enum TemplateLexer {
    private enum TagKind { case output, statement, comment }

    /// Splits `source` into tokens; throws a syntax error for an unclosed tag or a bad expression token.
    static func tokenize(_ source: TemplateSource) throws(ChatTemplateError) -> [TemplateToken] {
        let scalars = source.scalars
        var tokens: [TemplateToken] = []
        var position = 0
        var lineStarting = true
        while position < scalars.count {
            guard let (tagStart, kind) = nextTagStart(in: scalars, from: position) else {
                tokens.append(.text(source.string(position..<scalars.count)))
                break
            }
            var contentStart = tagStart + 2
            var marker: Unicode.Scalar?
            if contentStart < scalars.count, scalars[contentStart] == "-" || scalars[contentStart] == "+" {
                marker = scalars[contentStart]
                contentStart += 1
            }
            let textEnd = trimmedTextEnd(scalars, textStart: position, tagStart: tagStart, marker: marker,
                                         lstripAllowed: kind != .output, lineStarting: lineStarting)
            if textEnd > position { tokens.append(.text(source.string(position..<textEnd))) }

            let tagEnd: Int
            switch kind {
            case .comment:
                tagEnd = try commentEnd(source, contentStart: contentStart, tagStart: tagStart)
            case .output, .statement:
                var lexer = ExpressionLexer(source: source, position: contentStart)
                let closing: ExpressionLexer.Closing = kind == .output ? .output : .statement
                let (expressionTokens, endOffset, closeOffset) = try lexer.tokensUntilClose(closing, tagStart: tagStart)
                let location = source.location(tagStart)
                let end = source.location(closeOffset)
                tokens.append(kind == .output
                    ? .output(expressionTokens, end: end, at: location)
                    : .statement(expressionTokens, end: end, at: location))
                tagEnd = endOffset
            }
            lineStarting = tagEnd > 0 && scalars[tagEnd - 1] == "\n"
            position = tagEnd
        }
        return tokens
    }

    // MARK: Helpers

    private static func nextTagStart(in scalars: [Unicode.Scalar], from start: Int) -> (Int, TagKind)? {
        var index = start
        while index + 1 < scalars.count {
            if scalars[index] == "{" {
                switch scalars[index + 1] {
                case "{": return (index, .output)
                case "%": return (index, .statement)
                case "#": return (index, .comment)
                default: break
                }
            }
            index += 1
        }
        return nil
    }

    /// Where the text before a tag ends once `{%-` stripping or lstrip_blocks has been applied.
    private static func trimmedTextEnd(_ scalars: [Unicode.Scalar], textStart: Int, tagStart: Int,
                                       marker: Unicode.Scalar?, lstripAllowed: Bool, lineStarting: Bool) -> Int {
        if marker == "-" {
            var end = tagStart
            while end > textStart, isPythonWhitespace(scalars[end - 1]) { end -= 1 }
            return end
        }
        guard marker != "+", lstripAllowed else { return tagStart }
        var lineStart = tagStart
        while lineStart > textStart, scalars[lineStart - 1] != "\n" { lineStart -= 1 }
        let atLineStart = lineStart > textStart || lineStarting
        guard atLineStart, lineStart < tagStart,
              scalars[lineStart..<tagStart].allSatisfy(isPythonWhitespace) else { return tagStart }
        return lineStart
    }

    /// The offset just past a comment's `#}` (and what its end marker strips), jinja2's `(.*?)(+#}|-#}\s*|#}\n?)`.
    private static func commentEnd(_ source: TemplateSource, contentStart: Int, tagStart: Int) throws(ChatTemplateError) -> Int {
        let scalars = source.scalars
        var index = contentStart
        while index < scalars.count {
            if (scalars[index] == "+" || scalars[index] == "-"), source.matches("#}", at: index + 1) {
                var end = index + 3
                if scalars[index] == "-" { while end < scalars.count, isPythonWhitespace(scalars[end]) { end += 1 } }
                return end
            }
            if source.matches("#}", at: index) {
                return index + 2 < scalars.count && scalars[index + 2] == "\n" ? index + 3 : index + 2
            }
            index += 1
        }
        throw .syntax("unclosed comment: missing '#}'", at: source.location(tagStart))
    }
}
