// ChatCompletionRequest: the body of POST /v1/chat/completions as OpenAI defines it (plus top_k and min_p),
// decoded and checked at the edge; every problem becomes a 400 naming the field.

import Foundation

/// A chat message as clients send it. `content` may be a string or a list of text parts.
struct ChatMessageBody: Decodable {
    var role: String
    var content: String

    enum CodingKeys: String, CodingKey { case role, content }

    private struct Part: Decodable {
        var type: String
        var text: String?
    }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        if let text = try? c.decode(String.self, forKey: .content) {
            content = text
        } else if let parts = try? c.decode([Part].self, forKey: .content) {
            guard parts.allSatisfy({ $0.type == "text" && $0.text != nil }) else {
                throw APIError.invalidRequest("only text content parts are supported", param: "messages")
            }
            content = parts.map { $0.text! }.joined()
        } else if try c.decodeNil(forKey: .content) {
            content = ""
        } else {
            throw APIError.invalidRequest("message content must be a string or a list of text parts", param: "messages")
        }
    }
}

/// `stop`: a string or a list of up to four strings.
struct StopSequences: Decodable {
    var values: [String]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let one = try? c.decode(String.self) { values = [one] } else { values = try c.decode([String].self) }
    }
}

struct StreamOptions: Decodable {
    var includeUsage: Bool?
    enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
}

/// The request body. Unknown fields are ignored, as OpenAI's API does for forward compatibility.
struct ChatCompletionRequest: Decodable {
    var model: String?
    var messages: [ChatMessageBody]
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
    var user: String?

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, seed, stop, stream, n, logprobs, user
        case topP = "top_p", topK = "top_k", minP = "min_p", maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens", streamOptions = "stream_options", topLogprobs = "top_logprobs"
    }
}
