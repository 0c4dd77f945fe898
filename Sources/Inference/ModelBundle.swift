// ModelBundle: everything one model provides, together: weights, tokenizer, chat template and the
// end-of-generation tokens; renders a chat into prompt token ids.

import Llama
import ChatTemplate
import ProximaCore
import Tokenizer

/// Why a chat cannot become a prompt.
public enum PromptError: Error, Equatable, CustomStringConvertible {
    case template(ChatTemplateError)
    case empty
    case tooLong(tokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case let .template(e): return "the chat template failed: \(e)"
        case .empty: return "the rendered prompt is empty"
        case let .tooLong(tokens, context):
            return "the prompt has \(tokens) tokens, more than the model's context of \(context) allows"
        }
    }
}

/// A loaded model: immutable, shared by every request. ModelFiles loads one from a GGUF file
/// (`ModelBundle(path:pool:)`).
public final class ModelBundle: Sendable {
    public let path: String
    public let weights: LlamaWeights
    public let tokenizer: BPETokenizer
    public let chatTemplate: ChatTemplate
    /// Tokens that end a response (the chat template's end-of-turn and the end-of-text tokens).
    public let stopTokens: Set<Int>
    /// A short name for the API's model list (the file name without extension).
    public let name: String

    /// A model from its parts; `path` is the file they came from (named in messages, hashed by the store).
    public init(path: String, weights: LlamaWeights, tokenizer: BPETokenizer, chatTemplate: ChatTemplate) {
        self.path = path
        self.weights = weights
        self.tokenizer = tokenizer
        self.chatTemplate = chatTemplate
        stopTokens = Set(tokenizer.endOfGenerationIDs)
        let fileName = path.split(separator: "/").last.map(String.init) ?? path
        name = fileName.hasSuffix(".gguf") ? String(fileName.dropLast(5)) : fileName
    }

    /// The chat rendered with the model's template (generation prompt added) and tokenised.
    public func promptTokens(for messages: [ChatMessage]) throws(PromptError) -> [Int] {
        var variables: [String: TemplateValue] = [:]
        if let bos = tokenizer.bosID.flatMap(tokenizer.token(of:)) { variables["bos_token"] = .string(bos) }
        if let eos = tokenizer.eosID.flatMap(tokenizer.token(of:)) { variables["eos_token"] = .string(eos) }
        let text: String
        do {
            text = try chatTemplate.render(messages: messages, addGenerationPrompt: true, variables: variables)
        } catch {
            throw .template(error)
        }
        var ids = tokenizer.encode(text)
        if tokenizer.addsBOS, let bos = tokenizer.bosID, ids.first != bos { ids.insert(bos, at: 0) }
        guard !ids.isEmpty else { throw .empty }
        guard ids.count < weights.config.contextLength else {
            throw .tooLong(tokens: ids.count, contextLength: weights.config.contextLength)
        }
        return ids
    }
}
