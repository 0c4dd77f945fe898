// ChatTypes: the application layer's view of a chat completion: the request as the API parsed it, the
// settings that shape it, what a session reports while it runs, the finished completion and the errors.

import Foundation
import Inference
import Sampling
import ProximaCore

// MARK: - Request

/// A chat completion request, parsed from the wire but not yet checked (`ChatService.start` checks it).
public struct ChatRequest: Sendable {
    public var messages: [ChatMessage]
    public var sampling: SamplingParameters
    /// Tokens to generate at most; nil takes the configured default (clamped to the context left).
    public var maxTokens: Int?
    /// Sample 0 is drawn with this seed and sample 1 with seed + 1; nil draws a random seed per request.
    public var seed: UInt64?
    /// Up to four strings at which a response ends (not included in its text).
    public var stop: [String]
    /// Responses shown to the client: 1 or 2.
    public var n: Int
    /// Whether to report each token's log-prob, and how many alternatives per position (0...20).
    public var logprobs: Bool
    public var topLogprobs: Int
    public var stream: Bool
    /// The id of the API key that made the request, logged with it.
    public var apiKeyID: String?
    /// False for requests that must not teach (an Open WebUI task, `<model>:no-learn`): no hidden sample, nothing
    /// logged, so nothing of them reaches the learner.
    public var learn = true
    /// The client's own name for the response (`proxima.client_ref`), logged with it so that the client can rate
    /// it by that name (`/v1/feedback` with `client_ref`): a front end that does not keep Proxima's ids.
    public var clientRef: String?
    /// The version that serves this request instead of the serving one (`<model>@<version>`).
    public var pinned: ServingPolicy?

    public init(messages: [ChatMessage], sampling: SamplingParameters = SamplingParameters(), maxTokens: Int? = nil,
                seed: UInt64? = nil, stop: [String] = [], n: Int = 1, logprobs: Bool = false, topLogprobs: Int = 0,
                stream: Bool = false, apiKeyID: String? = nil) {
        self.messages = messages; self.sampling = sampling; self.maxTokens = maxTokens; self.seed = seed
        self.stop = stop; self.n = n; self.logprobs = logprobs; self.topLogprobs = topLogprobs
        self.stream = stream; self.apiKeyID = apiKeyID
    }
}

/// How the chat service shapes requests: the `chat:` section of config/proxima.yaml.
public struct ChatConfiguration: Sendable, Equatable {
    /// Sample a hidden second response for every sampled (temperature > 0) n = 1 request: the pair the
    /// learner trains on. A greedy twin would repeat the shown response, so greedy requests get none.
    public var pairing = true
    /// max_tokens when the request gives none.
    public var defaultMaxTokens = 256
    /// The largest max_tokens a request may ask for.
    public var maxTokensLimit = 2048

    public init() {}

    /// Roles a message may have. `developer` (OpenAI's newer name for system) is rendered as `system`;
    /// `tool` and `function` are refused because the server runs no tools.
    public static let acceptedRoles: Set<String> = ["system", "user", "assistant", "developer"]
    /// The most stop strings a request may give (as OpenAI).
    public static let maxStopStrings = 4
    /// The most alternatives per position `top_logprobs` may ask for (as OpenAI).
    public static let maxTopLogprobs = 20
}

// MARK: - Results

/// One token of a shown response with its log-prob under the serving version's raw distribution
/// (temperature 1, untruncated) and, when asked for, the most likely alternatives.
public struct ReportedToken: Sendable, Equatable {
    public var token: String
    public var bytes: [UInt8]
    public var logprob: Float
    public var top: [ReportedAlternative]
}

/// An alternative token at one position.
public struct ReportedAlternative: Sendable, Equatable {
    public var token: String
    public var bytes: [UInt8]
    public var logprob: Float
}

/// A response the client sees.
public struct ChatChoice: Sendable {
    public var index: Int
    public var text: String
    /// `.stop` (end token or stop string) or `.length` (max_tokens or the context).
    public var finishReason: FinishReason
    /// Generated tokens, including the end token when there is one.
    public var tokenCount: Int
    /// Per-token log-probs (without the end token), when the request asked for them.
    public var logprobs: [ReportedToken]?
}

/// A finished, logged chat completion.
public struct ChatCompletion: Sendable {
    public var id: String
    public var pairID: String?
    public var created: Date
    public var policyVersion: String
    /// The shown responses, by index.
    public var choices: [ChatChoice]
    public var promptTokens: Int
    /// Tokens generated for the shown responses (the hidden sample is not billed to the client).
    public var completionTokens: Int { choices.reduce(0) { $0 + $1.tokenCount } }
}

/// What a running session reports, in order: `admitted`, text deltas of shown responses, then `completed`
/// once every sample ended and the request was logged.
public enum ChatEvent: Sendable {
    case admitted(policyVersion: String)
    case text(choice: Int, delta: String)
    case completed(ChatCompletion)
}

// MARK: - Errors

/// Why a chat completion was refused or did not complete. The HTTP edge maps each case to a status.
public enum ChatError: Error, Equatable, CustomStringConvertible {
    /// A request field is missing or outside its range (400, naming the field).
    case invalidParameter(name: String, message: String)
    /// The prompt, or the prompt plus max_tokens, does not fit the model's context (400).
    case contextLengthExceeded(promptTokens: Int, maxTokens: Int?, contextLength: Int)
    /// The queue is full (429 with Retry-After).
    case overloaded(retryAfterSeconds: Int)
    /// The server is shutting down (503).
    case shuttingDown
    /// This process runs only the learner (421: send chat to a replica).
    case notServing
    /// The client went away and generation was stopped; nothing was logged.
    case cancelled
    /// The engine ended the request without finishing it (a sampling failure); nothing was logged.
    case generationFailed
    /// The request and its samples could not be written to the store; the response is not acknowledged.
    case loggingFailed(String)

    public var description: String {
        switch self {
        case let .invalidParameter(_, message): return message
        case let .contextLengthExceeded(prompt, maxTokens?, context):
            return "This model's maximum context length is \(context) tokens. However, you requested "
                + "\(prompt + maxTokens) tokens (\(prompt) in the messages, \(maxTokens) in the completion). "
                + "Please reduce the length of the messages or completion."
        case let .contextLengthExceeded(prompt, nil, context):
            return "This model's maximum context length is \(context) tokens. However, your messages resulted in "
                + "\(prompt) tokens. Please reduce the length of the messages."
        case let .overloaded(seconds): return "The server is at capacity; retry after \(seconds) s."
        case .shuttingDown: return "The server is shutting down; retry on another instance or later."
        case .notServing: return "This process runs the learner only (role learner) and serves no chat; send chat requests to a replica."
        case .cancelled: return "The request was cancelled."
        case .generationFailed: return "Generation failed; the request was not logged. Retry it."
        case let .loggingFailed(message): return "The response could not be logged: \(message)"
        }
    }
}

extension ChatConfiguration: Codable {
    public enum Key: String, CodingKey, CaseIterable {
        case pairing, defaultMaxTokens = "max_tokens_default", maxTokensLimit = "max_tokens_limit"
    }

    /// Absent keys keep their defaults; an absent `max_tokens_default` follows a lower `max_tokens_limit`.
    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: Key.self)
        pairing = try c.decodeIfPresent(Bool.self, forKey: .pairing) ?? pairing
        maxTokensLimit = try c.decodeIfPresent(Int.self, forKey: .maxTokensLimit) ?? maxTokensLimit
        defaultMaxTokens = try c.decodeIfPresent(Int.self, forKey: .defaultMaxTokens) ?? min(defaultMaxTokens, maxTokensLimit)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Key.self)
        try c.encode(pairing, forKey: .pairing)
        try c.encode(defaultMaxTokens, forKey: .defaultMaxTokens)
        try c.encode(maxTokensLimit, forKey: .maxTokensLimit)
    }

    /// Why these settings cannot be used, or nil.
    public var problem: SettingsError? {
        if !(1...1_000_000).contains(maxTokensLimit) { return SettingsError(key: "chat.max_tokens_limit", "chat.max_tokens_limit must be in 1...1000000") }
        if !(1...maxTokensLimit).contains(defaultMaxTokens) {
            return SettingsError(key: "chat.max_tokens_default", "chat.max_tokens_default (\(defaultMaxTokens)) must be in 1...chat.max_tokens_limit (\(maxTokensLimit))")
        }
        return nil
    }
}
