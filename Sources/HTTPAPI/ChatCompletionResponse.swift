// ChatCompletionResponse: what POST /v1/chat/completions returns, in OpenAI's shapes: the completion object,
// the stream chunks, usage and log-probs, plus the `proxima` object (pair id and policy version).

import Foundation
import ProximaCore
import Service

// MARK: - Shared parts

/// Proxima's extra fields on every completion and chunk.
struct ProximaInfo: Encodable {
    var pairID: String?
    var policyVersion: String?

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(pairID, forKey: .pairID)
        try c.encode(policyVersion, forKey: .policyVersion)
    }
    enum CodingKeys: String, CodingKey { case pairID = "pair_id", policyVersion = "policy_version" }
}

struct Usage: Encodable {
    var promptTokens: Int
    var completionTokens: Int
    var totalTokens: Int { promptTokens + completionTokens }

    init(_ completion: ChatCompletion) {
        promptTokens = completion.promptTokens
        completionTokens = completion.completionTokens
    }

    func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(promptTokens, forKey: .promptTokens)
        try c.encode(completionTokens, forKey: .completionTokens)
        try c.encode(totalTokens, forKey: .totalTokens)
    }
    enum CodingKeys: String, CodingKey {
        case promptTokens = "prompt_tokens", completionTokens = "completion_tokens", totalTokens = "total_tokens"
    }
}

/// `logprobs: {"content": [...]}` of a choice.
struct ChoiceLogprobs: Encodable {
    struct Alternative: Encodable {
        var token: String
        var logprob: Float
        var bytes: [UInt8]
    }
    struct Token: Encodable {
        var token: String
        var logprob: Float
        var bytes: [UInt8]
        var topLogprobs: [Alternative]
        enum CodingKeys: String, CodingKey { case token, logprob, bytes, topLogprobs = "top_logprobs" }
    }
    var content: [Token]

    init(_ tokens: [ReportedToken]) {
        content = tokens.map { token in
            Token(token: token.token, logprob: token.logprob, bytes: token.bytes,
                  topLogprobs: token.top.map { Alternative(token: $0.token, logprob: $0.logprob, bytes: $0.bytes) })
        }
    }
}

extension ChatChoice {
    /// "stop" or "length" (a cancelled choice is never reported).
    var finishReasonText: String { finishReason.rawValue }
}

// MARK: - Completion

/// The `chat.completion` object of a non-streamed response.
struct ChatCompletionResponse: Encodable {
    struct Choice: Encodable {
        var index: Int
        var message: ChatMessage
        var logprobs: ChoiceLogprobs?
        var finishReason: String

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(message, forKey: .message)
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
        enum CodingKeys: String, CodingKey { case index, message, logprobs, finishReason = "finish_reason" }
    }

    var id: String
    var object = "chat.completion"
    var created: Int
    var model: String
    var choices: [Choice]
    var usage: Usage
    var proxima: ProximaInfo

    init(_ completion: ChatCompletion, model: String) {
        id = completion.id
        created = Int(completion.created.timeIntervalSince1970)
        self.model = model
        choices = completion.choices.map { choice in
            Choice(index: choice.index, message: ChatMessage(role: "assistant", content: choice.text), logprobs: choice.logprobs.map(ChoiceLogprobs.init),
                   finishReason: choice.finishReasonText)
        }
        usage = Usage(completion)
        proxima = ProximaInfo(pairID: completion.pairID, policyVersion: completion.policyVersion)
    }
}

// MARK: - Stream chunks

/// One `chat.completion.chunk` of a streamed response.
struct ChatCompletionChunk: Encodable {
    struct Delta: Encodable {
        var role: String?
        var content: String?
    }
    struct Choice: Encodable {
        var index: Int
        var delta: Delta
        var logprobs: ChoiceLogprobs?
        var finishReason: String?

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(index, forKey: .index)
            try c.encode(delta, forKey: .delta)
            try c.encode(logprobs, forKey: .logprobs)
            try c.encode(finishReason, forKey: .finishReason)
        }
        enum CodingKeys: String, CodingKey { case index, delta, logprobs, finishReason = "finish_reason" }
    }

    var id: String
    var object = "chat.completion.chunk"
    var created: Int
    var model: String
    var choices: [Choice]
    /// Only on the last chunk, and only when `stream_options.include_usage` asked for it.
    var usage: Usage?
    var proxima: ProximaInfo
}
