// FeedbackService: takes thumbs (on a response) and A/B choices (on a pair) from users, checks them and
// records them in the store, idempotently by event id; counts them for /metrics.

import Foundation
import Metrics
import ProximaCore

// MARK: - Requests and results

/// A user's verdict as the API received it.
public struct FeedbackRequest: Sendable {
    public enum Verdict: Sendable, Equatable {
        /// A thumb on the shown response of a completion (`response_id`).
        case thumb(responseID: String, rating: ThumbRating)
        /// A thumb on the shown response of the latest completion the client named `clientRef`.
        case thumbByClientRef(String, rating: ThumbRating)
        /// A choice between the two samples of a pair (`pair_id`).
        case choice(pairID: String, choice: PairChoice)
    }

    public var verdict: Verdict
    public var comment: String?
    /// The client's idempotency key; the store generates one when nil.
    public var eventID: String?
    /// The key that sent the feedback: only the key that made the request may rate it, or an admin key.
    public var apiKeyID: String?
    public var fromAdminKey: Bool

    public init(verdict: Verdict, comment: String? = nil, eventID: String? = nil, apiKeyID: String? = nil, fromAdminKey: Bool = false) {
        self.verdict = verdict
        self.comment = comment
        self.eventID = eventID
        self.apiKeyID = apiKeyID
        self.fromAdminKey = fromAdminKey
    }
}

/// What was recorded.
public struct FeedbackReceipt: Sendable, Equatable {
    public var eventID: String
    /// The completion the verdict is about.
    public var responseID: String
    /// False when the event id was already stored with the same content (a retry): nothing new was written.
    public var stored: Bool
}

/// Why feedback was refused. The HTTP edge maps these to 400, 404, 409 and 500.
public enum FeedbackError: Error, Equatable, CustomStringConvertible {
    case invalidParameter(name: String, message: String)
    case unknownResponse(id: String)
    case unknownPair(id: String)
    case unknownClientRef(String)
    /// The event id was stored before with different content.
    case conflict(eventID: String)
    /// The request was made with another API key (403).
    case notYours(id: String)
    /// A choice on a pair whose second sample the client never saw (n = 1): it can only be judged by a thumb.
    case hiddenSample(pairID: String)
    case storage(String)

    public var description: String {
        switch self {
        case let .invalidParameter(_, message): return message
        case let .unknownResponse(id): return "No chat completion with id '\(id)' was logged by this server."
        case let .unknownPair(id): return "No response pair with id '\(id)' was logged by this server."
        case let .unknownClientRef(ref):
            return "No chat completion was logged with client_ref '\(ref)' (requests that must not teach are not logged)."

        case let .notYours(id): return "'\(id)' was made with another API key; only that key (or an admin key) can rate it."
        case let .hiddenSample(pairID):
            return "Pair '\(pairID)' showed one response (n = 1); a choice needs both shown (n = 2). Rate the response with response_id and rating."
        case let .conflict(eventID):
            return "Feedback event '\(eventID)' was already recorded with different content; send a new event_id for a new verdict."
        case let .storage(message): return "The feedback could not be stored: \(message)"
        }
    }
}

// MARK: - Service

/// Records user feedback. The same event id twice is stored once; a later, different verdict on the same
/// response or pair is a new event, and the latest one is what training uses.
public final class FeedbackService: Sendable {
    public let store: any ProximaStore
    private let metricsFactory: any MetricsFactory
    private let onStored: @Sendable () -> Void
    private let clock: any WallClock

    /// The longest comment accepted, in characters.
    public static let maxCommentLength = 4000
    /// The longest event id accepted, in characters.
    public static let maxEventIDLength = 128

    /// `onStored` runs after each new event is committed (it rings the learner's doorbell).
    public init(store: any ProximaStore, metricsFactory: (any MetricsFactory)? = nil, clock: any WallClock = SystemWallClock(),
                onStored: @escaping @Sendable () -> Void = {}) {
        self.store = store
        self.clock = clock
        self.onStored = onStored
        self.metricsFactory = metricsFactory ?? MetricsSystem.factory
        for kind in ["thumb", "choice"] { counter(kind: kind).increment(by: 0) }
    }

    /// Stored events by kind; the API's source is always `user` (the simulator and imports count their own).
    private func counter(kind: String) -> Counter {
        Counter(label: "proxima_feedback_events_total", dimensions: [("kind", kind), ("source", "user")], factory: metricsFactory)
    }

    /// Checks and records `request`; returns once the event is committed.
    public func record(_ request: FeedbackRequest) async throws(FeedbackError) -> FeedbackReceipt {
        if let eventID = request.eventID, eventID.isEmpty || eventID.count > Self.maxEventIDLength {
            throw .invalidParameter(name: "event_id", message: "event_id must be 1 to \(Self.maxEventIDLength) characters")
        }
        if let comment = request.comment, comment.count > Self.maxCommentLength {
            throw .invalidParameter(name: "comment", message: "comment must be at most \(Self.maxCommentLength) characters")
        }
        let subject: FeedbackSubject
        let logged: LoggedRequest?
        do {
            switch request.verdict {
            case let .thumb(responseID, rating):
                subject = .thumb(responseID: responseID, sampleIndex: 0, rating: rating)
                logged = try await store.loggedRequest(id: responseID)
                guard logged != nil else { throw FeedbackError.unknownResponse(id: responseID) }
            case let .thumbByClientRef(ref, rating):
                logged = try await store.loggedRequest(clientRef: ref)
                guard let logged else { throw FeedbackError.unknownClientRef(ref) }
                subject = .thumb(responseID: logged.request.id, sampleIndex: 0, rating: rating)
            case let .choice(pairID, choice):
                subject = .choice(pairID: pairID, choice: choice)
                logged = try await store.loggedRequest(pairID: pairID)
                guard let logged else { throw FeedbackError.unknownPair(id: pairID) }
                guard logged.request.n == 2 else { throw FeedbackError.hiddenSample(pairID: pairID) }
            }
        } catch let error as FeedbackError {
            throw error
        } catch {
            throw .storage("\(error)")
        }
        if let logged, !request.fromAdminKey, logged.request.apiKeyID != request.apiKeyID {
            throw .notYours(id: { if case let .choice(pairID, _) = request.verdict { pairID } else { logged.request.id } }())
        }
        let event = FeedbackEvent(eventID: request.eventID, subject: subject, source: .user, comment: request.comment,
                                  apiKeyID: request.apiKeyID, createdAt: clock.now())
        let outcome: FeedbackOutcome
        do {
            outcome = try await store.recordFeedback(event)
        } catch let error as StoreError {
            switch error {
            case let .unknownResponse(id): throw .unknownResponse(id: id)
            case let .unknownPair(id): throw .unknownPair(id: id)
            case let .feedbackConflict(eventID): throw .conflict(eventID: eventID)
            case let .invalidRecord(what, hint): throw .invalidParameter(name: "pair_id", message: "\(what) (\(hint))")
            default: throw .storage(error.description)
            }
        } catch {
            throw .storage("\(error)")
        }
        if case .stored = outcome {
            counter(kind: { if case .choice = request.verdict { "choice" } else { "thumb" } }()).increment()
            onStored()
        }
        return FeedbackReceipt(eventID: outcome.record.eventID, responseID: outcome.record.requestID,
                               stored: { if case .stored = outcome { true } else { false } }())
    }
}
