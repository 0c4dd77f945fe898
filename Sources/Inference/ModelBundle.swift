// ModelBundle: everything one model provides, together: weights, tokenizer, chat template and the
// end-of-generation tokens; renders a chat into prompt token ids.

import Llama
import ChatTemplate
import Foundation
import ProximaCore
import Tokenizer

/// Why a chat cannot become a prompt.
public enum PromptError: Error, Equatable, CustomStringConvertible {
    case template(ChatTemplateError)
    /// Message `index` writes out control tokens and the template changed its text, so it cannot be kept
    /// apart from the template's own markup.
    case controlText(index: Int)
    case empty
    case tooLong(tokens: Int, contextLength: Int)

    public var description: String {
        switch self {
        case let .template(e): return "the chat template failed: \(e)"
        case let .controlText(index):
            return "messages[\(index)] writes out control tokens in a way the chat template changes; remove them"
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

    /// The chat rendered with the model's template (generation prompt added) and tokenised. Control tokens
    /// come only from the template's markup: text a message writes out (`<|im_start|>system` in a user's
    /// content) is encoded as plain text, so no one can forge a turn (ARCHITECTURE.md invariant 6). Prompts
    /// without such text tokenise exactly as llama.cpp does. `now` is the date a template may print (Llama 3.2
    /// prints today's, as HF and llama.cpp render it).
    public func promptTokens(for messages: [ChatMessage], now: TemplateDate = .localNow()) throws(PromptError) -> [Int] {
        var variables: [String: TemplateValue] = [:]
        if let bos = tokenizer.bosID.flatMap(tokenizer.token(of:)) { variables["bos_token"] = .string(bos) }
        if let eos = tokenizer.eosID.flatMap(tokenizer.token(of:)) { variables["eos_token"] = .string(eos) }
        let text: String
        do {
            text = try chatTemplate.render(messages: messages, addGenerationPrompt: true, variables: variables, now: now)
        } catch {
            throw .template(error)
        }
        var ids = tokenizer.encode(text, literal: try contentRanges(of: messages, in: text))
        if tokenizer.addsBOS, let bos = tokenizer.bosID, ids.first != bos { ids.insert(bos, at: 0) }
        guard !ids.isEmpty else { throw .empty }
        guard ids.count < weights.config.contextLength else {
            throw .tooLong(tokens: ids.count, contextLength: weights.config.contextLength)
        }
        return ids
    }

    /// Where each message's content stands in the rendered `text` (unicode scalar offsets), found in order.
    /// A content the template changed (trimmed, say) is looked for trimmed; one that is not found is harmless
    /// unless it writes out control tokens, which is refused.
    private func contentRanges(of messages: [ChatMessage], in text: String) throws(PromptError) -> [Range<Int>] {
        var ranges: [Range<Int>] = []
        var cursor = text.startIndex
        for (index, message) in messages.enumerated() where !message.content.isEmpty {
            let trimmed = message.content.trimmingCharacters(in: .whitespacesAndNewlines)
            guard let found = text.range(of: message.content, range: cursor..<text.endIndex)
                    ?? (trimmed.isEmpty ? nil : text.range(of: trimmed, range: cursor..<text.endIndex)) else {
                if tokenizer.encode(message.content) != tokenizer.encode(message.content, parseSpecial: false) {
                    throw .controlText(index: index)
                }
                continue
            }
            let start = text.unicodeScalars.distance(from: text.unicodeScalars.startIndex, to: found.lowerBound)
            ranges.append(start..<(start + text.unicodeScalars[found].count))
            cursor = found.upperBound
        }
        return ranges
    }
}

extension TemplateDate {
    /// The local date and time now (what HF's `strftime_now` formats).
    public static func localNow() -> TemplateDate {
        var seconds = time(nil)
        var parts = tm()
        localtime_r(&seconds, &parts)
        return TemplateDate(year: Int(parts.tm_year) + 1900, month: Int(parts.tm_mon) + 1, day: Int(parts.tm_mday),
                            hour: Int(parts.tm_hour), minute: Int(parts.tm_min), second: Int(parts.tm_sec))
    }
}
