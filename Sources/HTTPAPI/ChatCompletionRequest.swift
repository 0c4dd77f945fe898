// ChatCompletionRequest: the body of POST /v1/chat/completions as OpenAI defines it (plus top_k and min_p),
// decoded at the edge and turned into the service layer's ChatRequest (which checks the values).

import Foundation
import Sampling
import Service
import ProximaCore

// MARK: - Wire types

/// `stop`: a string or a list of strings.
struct StopSequences: Decodable {
    var values: [String]

    init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
    }
}

struct StreamOptions: Decodable {
    var includeUsage: Bool?
    enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
}

/// The request body. Unknown fields are ignored, as OpenAI's API does for forward compatibility; `model`
/// may name anything (the server has one model and reports its name in the response).
struct ChatCompletionRequest: Decodable {
    var model: String?
    var messages: [ChatMessage]
    var temperature: Double?
    var topP: Double?
    var topK: Int?
    var minP: Double?
    var maxTokens: Int?
    var maxCompletionTokens: Int?
    var seed: Int64?
    var stop: StopSequences?
    var stream: Bool?
    var streamOptions: StreamOptions?
    var n: Int?
    var logprobs: Bool?
    var topLogprobs: Int?

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, seed, stop, stream, n, logprobs
        case topP = "top_p", topK = "top_k", minP = "min_p", maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens", streamOptions = "stream_options", topLogprobs = "top_logprobs"
    }

    /// Whether the final stream chunk should carry usage.
    var includeUsage: Bool { streamOptions?.includeUsage ?? false }

    // MARK: To the service layer

    /// The service layer's request; `max_completion_tokens` wins over the older `max_tokens`; a negative seed
    /// is taken as its 64-bit pattern.
    func chatRequest(apiKeyID: String?) -> ChatRequest {
        let defaults = SamplingParameters()
        let sampling = SamplingParameters(temperature: temperature.map(Float.init) ?? defaults.temperature,
                                          topK: topK ?? defaults.topK, topP: topP.map(Float.init) ?? defaults.topP,
                                          minP: minP.map(Float.init) ?? defaults.minP)
        return ChatRequest(messages: messages,
                           sampling: sampling, maxTokens: maxCompletionTokens ?? maxTokens,
                           seed: seed.map { UInt64(bitPattern: $0) }, stop: stop?.values ?? [], n: n ?? 1,
                           logprobs: logprobs ?? false, topLogprobs: topLogprobs ?? 0, stream: stream ?? false,
                           apiKeyID: apiKeyID)
    }
}
