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

/// Proxima's own request options: `"proxima": {"learn": false}` keeps a request out of learning;
/// `"client_ref"` names the response for the client's own later feedback.
struct ProximaOptions: Decodable {
    var learn: Bool?
    var clientRef: String?
    enum CodingKeys: String, CodingKey { case learn, clientRef = "client_ref" }
}

/// The request body. Harmless unknown fields are ignored, as OpenAI's API does for forward compatibility;
/// fields that would change what the response means and that Proxima does not implement are refused
/// (`unsupportedFields`). `model` may name anything (the server has one model and reports its name in the
/// response), with two suffixes that mean something: `@<version>` pins a version, `:no-learn` keeps the
/// request out of learning.
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
    var proxima: ProximaOptions?

    enum CodingKeys: String, CodingKey {
        case model, messages, temperature, seed, stop, stream, n, logprobs, proxima
        case topP = "top_p", topK = "top_k", minP = "min_p", maxTokens = "max_tokens"
        case maxCompletionTokens = "max_completion_tokens", streamOptions = "stream_options", topLogprobs = "top_logprobs"
    }

    /// Integer fields are decoded strictly: `5.5`, `"5"` or a number out of range is 400 naming the field (the
    /// seed takes any 64-bit value, negative ones as their bit pattern).
    init(from decoder: any Decoder) throws {
        if let raw = try? decoder.singleValueContainer().decode([String: JSONValue].self), let refused = Self.unsupported(raw) {
            throw APIError.invalidRequest(refused.message, param: refused.field, code: "unsupported_parameter")
        }
        let c = try decoder.container(keyedBy: CodingKeys.self)
        model = try c.decodeIfPresent(String.self, forKey: .model)
        messages = try c.decode([ChatMessage].self, forKey: .messages)
        temperature = try c.decodeIfPresent(Double.self, forKey: .temperature)
        topP = try c.decodeIfPresent(Double.self, forKey: .topP)
        topK = try c.decodeInteger(Int.self, forKey: .topK)
        minP = try c.decodeIfPresent(Double.self, forKey: .minP)
        maxTokens = try c.decodeInteger(Int.self, forKey: .maxTokens)
        maxCompletionTokens = try c.decodeInteger(Int.self, forKey: .maxCompletionTokens)
        if let unsigned = try? c.decode(UInt64.self, forKey: .seed) {
            seed = Int64(bitPattern: unsigned)
        } else {
            seed = try c.decodeInteger(Int64.self, forKey: .seed)
        }
        stop = try c.decodeIfPresent(StopSequences.self, forKey: .stop)
        stream = try c.decodeIfPresent(Bool.self, forKey: .stream)
        streamOptions = try c.decodeIfPresent(StreamOptions.self, forKey: .streamOptions)
        n = try c.decodeInteger(Int.self, forKey: .n)
        logprobs = try c.decodeIfPresent(Bool.self, forKey: .logprobs)
        topLogprobs = try c.decodeInteger(Int.self, forKey: .topLogprobs)
        proxima = try c.decodeIfPresent(ProximaOptions.self, forKey: .proxima)
    }

    // MARK: What Proxima does not implement

    /// Fields whose presence (with a value that asks for something) changes what a response means, and which
    /// this server does not implement: refused rather than silently ignored. `docs/api.md` lists them.
    static let unsupportedFields = ["tools", "tool_choice", "functions", "function_call", "response_format", "logit_bias",
                                    "audio", "modalities", "prediction", "web_search_options", "presence_penalty",
                                    "frequency_penalty", "best_of", "echo", "suffix"]

    /// The first field of `raw` this server cannot honour, with why; nil when there is none. Values that ask
    /// for nothing are accepted (`tools: []`, `response_format: {"type": "text"}`, `modalities: ["text"]`,
    /// penalties of 0, `n` 1 or 2).
    static func unsupported(_ raw: [String: JSONValue]) -> (field: String, message: String)? {
        func asksForNothing(_ field: String, _ value: JSONValue) -> Bool {
            switch (field, value) {
            case (_, .null): return true
            case ("tools", .array(let items)), ("functions", .array(let items)): return items.isEmpty
            case ("tool_choice", .string("none")), ("function_call", .string("none")): return true
            case ("response_format", .object(let format)): return format["type"] == .string("text") && format.count == 1
            case ("logit_bias", .object(let biases)): return biases.isEmpty
            case ("modalities", .array(let kinds)): return kinds.allSatisfy { $0 == .string("text") }
            case ("presence_penalty", .number(0)), ("frequency_penalty", .number(0)), ("echo", .bool(false)), ("best_of", .number(1)):
                return true
            default: return false
            }
        }
        for field in unsupportedFields.sorted() {
            guard let value = raw[field], !asksForNothing(field, value) else { continue }
            return (field, "'\(field)' is not supported by this server: it serves plain chat completions (see docs/api.md).")
        }
        if case let .number(n)? = raw["n"], n > 2, n == n.rounded() {
            return ("n", "n = \(Int(n)) is not supported: this server returns 1 or 2 choices.")
        }
        return nil
    }

    // MARK: The model name

    /// `<name>[@<version>][:no-learn]`: the version it pins (nil: the serving one) and whether it may teach.
    var modelOptions: (version: String?, learn: Bool) {
        var name = model ?? ""
        var learn = proxima?.learn ?? true
        if name.hasSuffix(Self.noLearnSuffix) {
            name.removeLast(Self.noLearnSuffix.count)
            learn = false
        }
        guard let at = name.lastIndex(of: "@") else { return (nil, learn) }
        let version = String(name[name.index(after: at)...])
        return (version.isEmpty ? nil : version, learn)
    }

    static let noLearnSuffix = ":no-learn"

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
        var request = ChatRequest(messages: messages,
                           sampling: sampling, maxTokens: maxCompletionTokens ?? maxTokens,
                           seed: seed.map { UInt64(bitPattern: $0) }, stop: stop?.values ?? [], n: n ?? 1,
                           logprobs: logprobs ?? false, topLogprobs: topLogprobs ?? 0, stream: stream ?? false,
                           apiKeyID: apiKeyID)
        request.learn = modelOptions.learn
        request.clientRef = proxima?.clientRef
        return request
    }
}

extension KeyedDecodingContainer {
    /// An optional integer field: a JSON number without a fraction that fits `T`; anything else (a fraction, a
    /// string, a number out of range) is a type mismatch naming the field.
    func decodeInteger<T: FixedWidthInteger & Decodable>(_ type: T.Type, forKey key: Key) throws -> T? {
        guard contains(key), try !decodeNil(forKey: key) else { return nil }
        if let value = try? decode(T.self, forKey: key) { return value }
        throw DecodingError.typeMismatch(T.self, .init(codingPath: codingPath + [key], debugDescription: "expected an integer"))
    }
}
