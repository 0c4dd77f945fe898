// ChatTemplate: renders a model's own chat template (the jinja2 string in tokenizer_config.json or
// GGUF `tokenizer.chat_template`) to a prompt exactly as Hugging Face's apply_chat_template would.

import ProximaCore

// MARK: - Template

/// A chat template parsed once and rendered for any number of conversations.
///
/// Follows HF's jinja2 environment: trim_blocks and lstrip_blocks on, `raise_exception`, `strftime_now`,
/// `tojson` as json.dumps with ensure_ascii=False, break/continue, jinja2's default Undefined. Constructs
/// it does not implement fail at init (or, when only known at render time, at render) with their location.
public struct ChatTemplate: Sendable {
    private let nodes: [TemplateNode]

    /// Parses `source`; throws `.syntax` for invalid jinja2 and `.unsupported` for unimplemented constructs.
    public init(_ source: String) throws(ChatTemplateError) {
        let tokens = try TemplateLexer.tokenize(TemplateSource(source))
        nodes = try StatementParser.parse(tokens)
    }

    /// Renders the prompt for `messages`.
    ///
    /// Like HF, the template sees `messages`, `add_generation_prompt`, `tools` and `documents` (both `none`
    /// unless given in `variables`) and whatever else `variables` holds; HF also passes the tokenizer's
    /// special tokens (`bos_token`, `eos_token`, …), so callers should put those in `variables`.
    /// `now` is the local date and time `strftime_now` formats; without it a call to `strftime_now` fails.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, variables: [String: TemplateValue] = [:],
                       now: TemplateDate? = nil) throws(ChatTemplateError) -> String {
        var scope: [String: RuntimeValue] = ["tools": .none, "documents": .none]
        for (name, value) in variables { scope[name] = RuntimeValue(value) }
        scope["messages"] = .list(messages.map { message in
            var dictionary = RuntimeDictionary()
            dictionary["role"] = .string(message.role)
            dictionary["content"] = .string(message.content)
            return .dict(dictionary)
        })
        scope["add_generation_prompt"] = .bool(addGenerationPrompt)
        return try TemplateRenderer(variables: scope, now: now).render(nodes)
    }
}
