// StoreRecords: the plain values the store takes and returns for policy versions, requests and samples.
// No GRDB types here: the layers above see only these Sendable values (feedback and phases have their own files).

import Foundation

// MARK: - Policy versions

/// Where a policy version is in its life: a candidate is gated, then serving (one at a time) or rejected;
/// a serving version becomes retired when another one is served, and can be served again (rollback).
public enum PolicyStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case candidate, serving, retired, rejected
}

/// A file the database points at, named by the sha256 of its bytes (adapters, ensemble states).
public struct StoredFile: Sendable, Hashable {
    public var path: String
    /// Lowercase hex, 64 characters.
    public var sha256: String

    public init(path: String, sha256: String) {
        self.path = path
        self.sha256 = sha256
    }
}

/// An immutable policy version: the base model (no adapter) or the base plus a merged LoRA ensemble.
public struct PolicyVersionRecord: Sendable, Hashable {
    /// "v0" for the base model, then "v1", "v2", … in creation order.
    public var id: String
    /// The version this one was trained from (nil for the base).
    public var parent: String?
    public var createdAt: Date
    public var status: PolicyStatus
    /// The merged adapter (PEFT safetensors), nil for the base model.
    public var adapter: StoredFile?
    /// The ensemble state (members and optimiser moments) the next phase continues from.
    public var state: StoredFile?
    /// The phase that produced it (nil for the base and for imported adapters).
    public var phaseID: Int64?
    /// The base model file every version of this database applies to.
    public var baseModelSHA256: String
    /// Evaluation numbers (e.g. the gate's win rate).
    public var metrics: JSONObject?

    public init(id: String, parent: String?, createdAt: Date, status: PolicyStatus, adapter: StoredFile?,
                state: StoredFile?, phaseID: Int64?, baseModelSHA256: String, metrics: JSONObject?) {
        self.id = id
        self.parent = parent
        self.createdAt = createdAt
        self.status = status
        self.adapter = adapter
        self.state = state
        self.phaseID = phaseID
        self.baseModelSHA256 = baseModelSHA256
        self.metrics = metrics
    }
}

extension PolicyVersionRecord {
    /// The base model's version: the initial policy every win rate on the dashboard is measured against.
    public static let initialID = "v0"
}

/// What the learner hands over to create a candidate: the store assigns the next id ("v<N+1>") and
/// copies the base model hash from the parent.
public struct CandidateVersion: Sendable, Hashable {
    public var parent: String
    public var phaseID: Int64?
    public var createdAt: Date
    public var adapter: StoredFile?
    public var state: StoredFile?
    public var metrics: JSONObject?

    public init(parent: String, phaseID: Int64?, createdAt: Date, adapter: StoredFile?, state: StoredFile?,
                metrics: JSONObject? = nil) {
        self.parent = parent
        self.phaseID = phaseID
        self.createdAt = createdAt
        self.adapter = adapter
        self.state = state
        self.metrics = metrics
    }
}

/// The result of activating a version: the one now serving, and the one it replaced (nil if none or itself).
public struct ServingChange: Sendable, Hashable {
    public var serving: PolicyVersionRecord
    public var retired: PolicyVersionRecord?

    public init(serving: PolicyVersionRecord, retired: PolicyVersionRecord?) {
        self.serving = serving
        self.retired = retired
    }
}

// MARK: - Requests

/// How a chat request ended.
public enum RequestStatus: String, Sendable, Hashable, Codable, CaseIterable {
    case completed, cancelled, failed
}

/// The sampling settings a request was served with (the effective values, defaults filled in).
public struct SamplingRecord: Sendable, Hashable, Codable {
    public var temperature: Double
    public var topP: Double
    public var topK: Int
    public var minP: Double
    public var maxTokens: Int
    /// The seed the samples were drawn with, so they can be reproduced.
    public var seed: UInt64?
    public var stop: [String]

    public init(temperature: Double, topP: Double, topK: Int, minP: Double, maxTokens: Int, seed: UInt64?,
                stop: [String] = []) {
        self.temperature = temperature
        self.topP = topP
        self.topK = topK
        self.minP = minP
        self.maxTokens = maxTokens
        self.seed = seed
        self.stop = stop
    }

    enum CodingKeys: String, CodingKey {
        case temperature, topP = "top_p", topK = "top_k", minP = "min_p", maxTokens = "max_tokens", seed, stop
    }
}

/// One chat completion as logged: what was asked, how, and on which version.
public struct RequestRecord: Sendable, Hashable {
    /// The chat completion id ("chatcmpl-…"); a thumb refers to it as `response_id`.
    public var id: String
    /// Set when the request sampled a pair (two samples); a choice refers to it.
    public var pairID: String?
    public var createdAt: Date
    public var apiKeyID: String?
    /// The policy version that served every sample of the request.
    public var policyVersion: String
    public var messages: [ChatMessage]
    /// The rendered prompt's token ids, exactly as fed to the model.
    public var promptTokenIDs: [Int]
    public var sampling: SamplingRecord
    /// How many samples the client asked for and was shown (1 or 2).
    public var n: Int
    public var stream: Bool
    public var status: RequestStatus
    /// The client's own name for this response (`proxima.client_ref`, e.g. a front end's message id), by
    /// which it can rate the response without knowing Proxima's id. Not unique: the latest request wins.
    public var clientRef: String?

    public init(id: String, pairID: String?, createdAt: Date, apiKeyID: String?, policyVersion: String,
                messages: [ChatMessage], promptTokenIDs: [Int], sampling: SamplingRecord, n: Int,
                stream: Bool, status: RequestStatus, clientRef: String? = nil) {
        self.clientRef = clientRef
        self.id = id
        self.pairID = pairID
        self.createdAt = createdAt
        self.apiKeyID = apiKeyID
        self.policyVersion = policyVersion
        self.messages = messages
        self.promptTokenIDs = promptTokenIDs
        self.sampling = sampling
        self.n = n
        self.stream = stream
        self.status = status
    }
}

// MARK: - Samples

/// One generated response of a request, with the behavior policy's per-token log-probs.
public struct SampleRecord: Sendable, Hashable {
    /// 0 is shown to the user; 1 is the hidden second sample of the pair (shown too when n = 2).
    public var index: Int
    /// The generated token ids (never re-tokenised from the text).
    public var tokenIDs: [Int]
    /// log π(token) under the serving version's raw distribution, one per token.
    public var logprobs: [Float]
    public var text: String
    public var finishReason: FinishReason
    public var shown: Bool

    public init(index: Int, tokenIDs: [Int], logprobs: [Float], text: String, finishReason: FinishReason, shown: Bool) {
        self.index = index
        self.tokenIDs = tokenIDs
        self.logprobs = logprobs
        self.text = text
        self.finishReason = finishReason
        self.shown = shown
    }
}

/// A logged request with its samples in index order.
public struct LoggedRequest: Sendable, Hashable {
    public var request: RequestRecord
    public var samples: [SampleRecord]

    public init(request: RequestRecord, samples: [SampleRecord]) {
        self.request = request
        self.samples = samples
    }
}

// MARK: - Time

/// The store keeps times as whole milliseconds since 1970 (an INTEGER column); every implementation
/// rounds the same way so a value read back equals the value stored.
package enum StoredTime {
    package static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }
    package static func date(_ milliseconds: Int64) -> Date { Date(timeIntervalSince1970: Double(milliseconds) / 1000) }
    package static func normalized(_ date: Date) -> Date { self.date(milliseconds(date)) }
}
