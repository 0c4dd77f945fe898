// StoreRules: the checks and derivations every ProximaStore implementation shares, so the SQLite and the
// in-memory store accept, refuse and compute exactly the same things (the SQL constraints are the backstop).

import Foundation

// MARK: - Requests and samples

package enum StoreRules {
    /// Checks a request and its samples before they are logged (the version's existence is checked by the store).
    /// The longest client reference a request may carry, in UTF-8 bytes.
    public static let maxClientRefLength = 256

    package static func validate(_ request: RequestRecord, samples: [SampleRecord]) throws {
        guard !request.id.isEmpty else { throw invalid("the request id is empty", "pass the chat completion id") }
        guard request.pairID.map({ !$0.isEmpty }) ?? true else {
            throw invalid("the pair id of \(request.id) is empty", "pass nil when no pair was sampled")
        }
        if let ref = request.clientRef {
            guard (1...maxClientRefLength).contains(ref.utf8.count) else {
                throw invalid("the client reference of \(request.id) has \(ref.utf8.count) bytes", "pass 1 to \(maxClientRefLength) bytes, or nil")
            }
        }
        guard !request.messages.isEmpty else {
            throw invalid("request \(request.id) has no messages", "log the messages the client sent")
        }
        guard request.n == 1 || request.n == 2 else {
            throw invalid("request \(request.id) has n = \(request.n)", "n is 1 or 2")
        }
        guard samples.map(\.index) == Array(0..<samples.count), (1...2).contains(samples.count) else {
            throw invalid("request \(request.id) has sample indices \(samples.map(\.index))",
                          "pass samples 0 (and 1 for a pair) in index order")
        }
        guard (request.pairID != nil) == (samples.count == 2) else {
            throw invalid("request \(request.id) has \(samples.count) sample(s) and pair id \(request.pairID ?? "nil")",
                          "a request has a pair id exactly when it has two samples")
        }
        guard request.n <= samples.count else {
            throw invalid("request \(request.id) has n = \(request.n) but \(samples.count) sample(s)",
                          "log every sample the client was shown")
        }
        try checkTokenIDs(request.promptTokenIDs, what: "the prompt of \(request.id)")
        for sample in samples {
            let what = "sample \(sample.index) of \(request.id)"
            guard sample.shown == (sample.index < request.n) else {
                throw invalid("\(what) has shown = \(sample.shown) with n = \(request.n)",
                              "samples below n are shown to the client, the others are hidden")
            }
            try checkTokenIDs(sample.tokenIDs, what: what)
            guard sample.logprobs.count == sample.tokenIDs.count else {
                throw invalid("\(what) has \(sample.tokenIDs.count) tokens and \(sample.logprobs.count) log-probs",
                              "record one behavior log-prob per generated token")
            }
            guard !sample.logprobs.contains(where: \.isNaN) else {
                throw invalid("\(what) has a NaN log-prob", "record log π(token) from the raw distribution")
            }
        }
    }

    package static func checkTokenIDs(_ ids: [Int], what: String) throws {
        guard ids.allSatisfy({ (0...Int(Int32.max)).contains($0) }) else {
            throw invalid("\(what) has a token id outside 0...\(Int32.max)", "token ids are vocabulary indices")
        }
    }

    package static func invalid(_ what: String, _ hint: String) -> StoreError { .invalidRecord(what: what, hint: hint) }
}

// MARK: - Policy versions

extension StoreRules {
    package static func checkSHA256(_ value: String, what: String) throws {
        guard value.utf8.count == 64, value.utf8.allSatisfy({ (48...57).contains($0) || (97...102).contains($0) }) else {
            throw invalid("\(what) sha256 \"\(value)\" is not 64 lowercase hex digits", "pass the file's sha256 digest in hex")
        }
    }

    package static func validate(_ candidate: CandidateVersion) throws {
        for (name, file) in [("adapter", candidate.adapter), ("state", candidate.state)] {
            guard let file else { continue }
            guard !file.path.isEmpty else { throw invalid("the \(name) path is empty", "pass the file the version points at") }
            try checkSHA256(file.sha256, what: "the \(name)")
        }
    }

    /// The next version id: "v" and one more than the largest number of an existing "v<number>" id.
    package static func nextVersionID(after ids: some Sequence<String>) -> String {
        let numbers = ids.compactMap { id -> Int? in
            guard id.hasPrefix("v"), id.count > 1 else { return nil }
            return Int(id.dropFirst())
        }
        return "v\((numbers.max() ?? 0) + 1)"
    }

    /// Refuses to serve a rejected version.
    package static func checkServable(_ version: PolicyVersionRecord) throws {
        guard version.status != .rejected else {
            throw StoreError.invalidTransition(what: "version \(version.id)", from: "rejected", to: "serving",
                                               hint: "a rejected candidate's state is dropped; activate another version")
        }
    }

    package static func checkRejectable(_ version: PolicyVersionRecord) throws {
        guard version.status == .candidate || version.status == .rejected else {
            throw StoreError.invalidTransition(what: "version \(version.id)", from: version.status.rawValue, to: "rejected",
                                               hint: "only a candidate that has not served can be rejected")
        }
    }
}

// MARK: - Feedback

extension StoreRules {
    /// The event id a stored event gets: the client's, or a fresh one.
    package static func eventID(for event: FeedbackEvent) throws -> String {
        guard let id = event.eventID else { return "evt-" + UUID().uuidString.lowercased() }
        guard !id.isEmpty, id.utf8.count <= 200 else {
            throw invalid("the event id is empty or longer than 200 bytes", "omit event_id or send a short unique key")
        }
        return id
    }

    /// The stored form of an event, once its subject was resolved to a request with `sampleCount` samples.
    package static func record(for event: FeedbackEvent, id: Int64, eventID: String, requestID: String,
                       sampleCount: Int) throws -> FeedbackRecord {
        let verdict: FeedbackVerdict
        switch event.subject {
        case .thumb(_, let sampleIndex, let rating):
            guard (0..<sampleCount).contains(sampleIndex) else {
                throw StoreError.unknownSample(requestID: requestID, index: sampleIndex)
            }
            verdict = .thumb(sampleIndex: sampleIndex, rating: rating)
        case .choice(let pairID, let choice):
            guard sampleCount == 2 else {
                throw invalid("pair \(pairID) has \(sampleCount) sample(s)", "a choice needs a pair of two samples")
            }
            verdict = .choice(choice)
        }
        return FeedbackRecord(id: id, eventID: eventID, requestID: requestID, verdict: verdict, source: event.source,
                              comment: event.comment, apiKeyID: event.apiKeyID,
                              createdAt: StoredTime.normalized(event.createdAt),
                              preference: Preference.implied(by: verdict, sampleCount: sampleCount))
    }
}

// MARK: - Phases

extension StoreRules {
    /// The phase statuses whose recorded pairs count as used.
    package static let statusesUsingPairs: Set<PhaseStatus> = [.queued, .running, .succeeded, .rejected]

    /// The error a phase interrupted by a crash is left with.
    package static let interruptedPhaseError = "interrupted: the service stopped (crash or kill) while this phase was queued or running"

    package static func checkTransition(_ phase: PhaseRecord, allowed: Set<PhaseStatus>, to target: PhaseStatus) throws {
        guard allowed.contains(phase.status) else {
            throw StoreError.invalidTransition(what: "phase \(phase.id)", from: phase.status.rawValue, to: target.rawValue,
                                               hint: "a phase goes queued → running → succeeded, rejected, failed or cancelled, once")
        }
    }

    /// Checks that an outcome's version is a candidate this phase produced.
    package static func checkOutcomeVersion(_ version: PolicyVersionRecord, of phase: PhaseRecord) throws {
        guard version.phaseID == phase.id, version.status == .candidate else {
            throw invalid("version \(version.id) (\(version.status.rawValue), phase \(version.phaseID.map(String.init) ?? "none")) "
                          + "is not a candidate of phase \(phase.id)",
                          "finish a phase with the candidate it inserted (CandidateVersion.phaseID)")
        }
    }

    package static func checkFailure(_ outcome: PhaseOutcome) throws {
        if let error = outcome.error, error.isEmpty {
            throw invalid("a failed or cancelled phase needs an error message", "say why the phase ended")
        }
    }

    /// The statuses a phase may be in when it ends with `outcome`: a failure or a cancellation can come before
    /// it started, a result only after.
    package static func statusesBefore(_ outcome: PhaseOutcome) -> Set<PhaseStatus> {
        outcome.status == .failed || outcome.status == .cancelled ? [.queued, .running] : [.running]
    }
}
