// FeedbackRecords: feedback events (thumbs and A/B choices), the preference each one implies, and the
// labelled and unlabelled pairs the learner and the preference simulator read.

import Foundation

// MARK: - Events

/// Who gave a verdict; every pair keeps it so a phase can weight or filter by it.
public enum FeedbackSource: String, Sendable, Hashable, Codable, CaseIterable {
    case user, simulator, `import`
}

/// A thumb on one response.
public enum ThumbRating: String, Sendable, Hashable, Codable, CaseIterable {
    case up, down
}

/// An explicit A/B verdict on a pair: sample 0 is better, sample 1 is better, or neither.
public enum PairChoice: String, Sendable, Hashable, Codable, CaseIterable {
    case first = "0", second = "1", tie
}

/// What a feedback event says and about what.
public enum FeedbackSubject: Sendable, Hashable {
    /// A thumb on a response (`response_id` = request id); it rates sample `sampleIndex` (0 = the shown one).
    case thumb(responseID: String, sampleIndex: Int = 0, rating: ThumbRating)
    /// A choice on a pair (`pair_id`).
    case choice(pairID: String, choice: PairChoice)
}

/// A feedback event as received (from the API, the simulator or an import).
public struct FeedbackEvent: Sendable, Hashable {
    /// The client's idempotency key; nil lets the store generate one.
    public var eventID: String?
    public var subject: FeedbackSubject
    public var source: FeedbackSource
    public var comment: String?
    public var apiKeyID: String?
    public var createdAt: Date

    public init(eventID: String?, subject: FeedbackSubject, source: FeedbackSource, comment: String? = nil,
                apiKeyID: String? = nil, createdAt: Date) {
        self.eventID = eventID
        self.subject = subject
        self.source = source
        self.comment = comment
        self.apiKeyID = apiKeyID
        self.createdAt = createdAt
    }
}

// MARK: - Verdicts and preferences

/// The verdict of a stored event, resolved to its request.
public enum FeedbackVerdict: Sendable, Hashable {
    case thumb(sampleIndex: Int, rating: ThumbRating)
    case choice(PairChoice)
}

/// A strict preference between the two samples of a pair: what training uses.
public struct Preference: Sendable, Hashable {
    public var chosenIndex: Int
    public var rejectedIndex: Int

    public init(chosenIndex: Int, rejectedIndex: Int) {
        self.chosenIndex = chosenIndex
        self.rejectedIndex = rejectedIndex
    }

    /// Thumbs to pairs (ARCHITECTURE.md): thumbs-up on A records A ≻ B, thumbs-down records B ≻ A, a choice
    /// records that choice, a tie records nothing, and a thumb on a request without a second sample records nothing.
    public static func implied(by verdict: FeedbackVerdict, sampleCount: Int) -> Preference? {
        guard sampleCount == 2 else { return nil }
        switch verdict {
        case .thumb(let rated, .up): return Preference(chosenIndex: rated, rejectedIndex: 1 - rated)
        case .thumb(let rated, .down): return Preference(chosenIndex: 1 - rated, rejectedIndex: rated)
        case .choice(.first): return Preference(chosenIndex: 0, rejectedIndex: 1)
        case .choice(.second): return Preference(chosenIndex: 1, rejectedIndex: 0)
        case .choice(.tie): return nil
        }
    }
}

/// A stored feedback event.
public struct FeedbackRecord: Sendable, Hashable {
    /// Insertion order: the latest event of a request is the one with the largest id.
    public var id: Int64
    public var eventID: String
    public var requestID: String
    public var verdict: FeedbackVerdict
    public var source: FeedbackSource
    public var comment: String?
    public var apiKeyID: String?
    public var createdAt: Date
    /// The preference for training (nil for a tie or a request without a second sample).
    public var preference: Preference?

    public init(id: Int64, eventID: String, requestID: String, verdict: FeedbackVerdict, source: FeedbackSource,
                comment: String?, apiKeyID: String?, createdAt: Date, preference: Preference?) {
        self.id = id
        self.eventID = eventID
        self.requestID = requestID
        self.verdict = verdict
        self.source = source
        self.comment = comment
        self.apiKeyID = apiKeyID
        self.createdAt = createdAt
        self.preference = preference
    }

    /// Whether `other` carries the same event (everything but the id and the time of arrival).
    package func hasSameContent(as other: FeedbackRecord) -> Bool {
        requestID == other.requestID && verdict == other.verdict && source == other.source
            && comment == other.comment && apiKeyID == other.apiKeyID
    }
}

/// What `recordFeedback` did.
public enum FeedbackOutcome: Sendable, Hashable {
    /// A new event was stored.
    case stored(FeedbackRecord)
    /// The event id was already stored with the same content: nothing was written (retries get 200 again).
    case duplicate(FeedbackRecord)

    /// The stored event, new or earlier.
    public var record: FeedbackRecord {
        switch self {
        case .stored(let record), .duplicate(let record): record
        }
    }
}

// MARK: - Pairs

/// One sample of a pair as training and export need it.
public struct PairSample: Sendable, Hashable {
    public var index: Int
    public var tokenIDs: [Int]
    /// Behavior log-probs, one per token (the BPO reference).
    public var logprobs: [Float]
    public var text: String
    public var finishReason: FinishReason

    public init(index: Int, tokenIDs: [Int], logprobs: [Float], text: String, finishReason: FinishReason) {
        self.index = index
        self.tokenIDs = tokenIDs
        self.logprobs = logprobs
        self.text = text
        self.finishReason = finishReason
    }
}

/// A pair whose latest verdict is a strict preference: one training example.
public struct LabelledPair: Sendable, Hashable {
    public var requestID: String
    public var pairID: String
    public var policyVersion: String
    public var messages: [ChatMessage]
    public var promptTokenIDs: [Int]
    public var chosen: PairSample
    public var rejected: PairSample
    /// Who gave the verdict that counts (the latest one).
    public var source: FeedbackSource
    /// The id of that verdict's feedback row.
    public var feedbackID: Int64
    public var labelledAt: Date

    public init(requestID: String, pairID: String, policyVersion: String, messages: [ChatMessage],
                promptTokenIDs: [Int], chosen: PairSample, rejected: PairSample, source: FeedbackSource,
                feedbackID: Int64, labelledAt: Date) {
        self.requestID = requestID
        self.pairID = pairID
        self.policyVersion = policyVersion
        self.messages = messages
        self.promptTokenIDs = promptTokenIDs
        self.chosen = chosen
        self.rejected = rejected
        self.source = source
        self.feedbackID = feedbackID
        self.labelledAt = labelledAt
    }
}

/// A response whose request's latest verdict is a thumb on it: one KTO example (desirable when up). The request
/// may have a second sample (then the thumb also implies a pair for the pairwise losses) or not (greedy).
public struct RatedResponse: Sendable, Hashable {
    public var requestID: String
    public var policyVersion: String
    public var messages: [ChatMessage]
    public var promptTokenIDs: [Int]
    public var sample: PairSample
    public var desirable: Bool
    public var source: FeedbackSource
    public var feedbackID: Int64
    public var labelledAt: Date

    public init(requestID: String, policyVersion: String, messages: [ChatMessage], promptTokenIDs: [Int], sample: PairSample,
                desirable: Bool, source: FeedbackSource, feedbackID: Int64, labelledAt: Date) {
        self.requestID = requestID
        self.policyVersion = policyVersion
        self.messages = messages
        self.promptTokenIDs = promptTokenIDs
        self.sample = sample
        self.desirable = desirable
        self.source = source
        self.feedbackID = feedbackID
        self.labelledAt = labelledAt
    }
}

/// A pair nobody has judged yet (what the preference simulator labels).
public struct UnlabelledPair: Sendable, Hashable {
    public var requestID: String
    public var pairID: String
    public var policyVersion: String
    public var messages: [ChatMessage]
    public var promptTokenIDs: [Int]
    /// Sample 0 then sample 1.
    public var samples: [PairSample]

    public init(requestID: String, pairID: String, policyVersion: String, messages: [ChatMessage],
                promptTokenIDs: [Int], samples: [PairSample]) {
        self.requestID = requestID
        self.pairID = pairID
        self.policyVersion = policyVersion
        self.messages = messages
        self.promptTokenIDs = promptTokenIDs
        self.samples = samples
    }
}

/// Which labelled pairs to read.
///
/// A pair is one completed request with two samples, neither cancelled; it is labelled when its latest
/// feedback event implies a strict preference, and pairs whose two token sequences are identical are dropped.
/// It is *used* once a phase that is queued, running, succeeded or rejected recorded it (`recordPhasePairs`);
/// a failed phase releases its pairs, so a crash wastes no data.
public struct LabelledPairQuery: Sendable, Hashable {
    /// Only pairs no phase has used yet (the N-new-pairs trigger and the next phase read these).
    public var unusedOnly: Bool
    /// Only verdicts from these sources.
    public var sources: Set<FeedbackSource>
    /// At most this many pairs, oldest verdict first.
    public var limit: Int?
    /// Only pairs labelled by an A/B choice, not by a thumb (KTO reads thumbs as rated responses instead).
    public var choicesOnly: Bool

    public init(unusedOnly: Bool = true, sources: Set<FeedbackSource> = Set(FeedbackSource.allCases), limit: Int? = nil,
                choicesOnly: Bool = false) {
        self.unusedOnly = unusedOnly
        self.sources = sources
        self.limit = limit
        self.choicesOnly = choicesOnly
    }
}

/// A request with its samples and the verdict about it, stored together (see `importLabelledRequests`).
public struct LabelledRequest: Sendable, Hashable {
    public var request: RequestRecord
    public var samples: [SampleRecord]
    public var feedback: FeedbackEvent

    public init(request: RequestRecord, samples: [SampleRecord], feedback: FeedbackEvent) {
        self.request = request
        self.samples = samples
        self.feedback = feedback
    }
}
