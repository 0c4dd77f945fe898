// FeedbackBehaviourTests: idempotent feedback, unknown ids, thumbs to preferences, the latest verdict,
// and which pairs count as labelled or unlabelled — run on every store implementation.

import Foundation
import ProximaCore
import Store
import Testing

// MARK: - Recording feedback

@Suite("Feedback") struct FeedbackBehaviourTests {
    let folder = TempFolder()

    @Test(arguments: StoreKind.allCases)
    func sameEventTwiceIsStoredOnce(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "r1")
        let event = Fixtures.thumb("r1", .up, event: "evt-client-1", comment: "nice")
        let first = try await store.recordFeedback(event)
        var retry = event
        retry.createdAt = Fixtures.time(30)
        let second = try await store.recordFeedback(retry)

        guard case .stored(let stored) = first, case .duplicate(let duplicate) = second else {
            Issue.record("expected stored then duplicate, got \(first), \(second)")
            return
        }
        #expect(stored == duplicate)
        #expect(stored.eventID == "evt-client-1" && stored.requestID == "r1" && stored.comment == "nice")
        #expect(stored.createdAt == Fixtures.time(2))
        #expect(try await store.feedback(requestID: "r1") == [stored])
    }

    @Test(arguments: StoreKind.allCases)
    func sameEventIDWithOtherContentConflicts(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "r1")
        try await Fixtures.log(store, "r2")
        _ = try await store.recordFeedback(Fixtures.thumb("r1", .up, event: "e"))
        for other in [Fixtures.thumb("r1", .down, event: "e"), Fixtures.thumb("r2", .up, event: "e"),
                      Fixtures.thumb("r1", .up, event: "e", source: .simulator),
                      Fixtures.thumb("r1", .up, event: "e", comment: "changed my mind"),
                      Fixtures.choice("pair-r1", .first, event: "e")] {
            await expectStoreError(.feedbackConflict(eventID: "e")) { try await store.recordFeedback(other) }
        }
        #expect(try await store.feedback(requestID: "r1").count == 1)
        #expect(try await store.feedback(requestID: "r2").isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func eventsWithoutIDGetDistinctGeneratedOnes(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "r1")
        let first = try await store.recordFeedback(Fixtures.thumb("r1", .up)).record
        let second = try await store.recordFeedback(Fixtures.thumb("r1", .up)).record
        #expect(first.eventID != second.eventID && !first.eventID.isEmpty)
        #expect(first.id < second.id)
        await expectInvalidRecord { try await store.recordFeedback(Fixtures.thumb("r1", .up, event: "")) }
    }

    @Test(arguments: StoreKind.allCases)
    func unknownIDsAreReported(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "single", pair: false)
        await expectStoreError(.unknownResponse(id: "nope")) { try await store.recordFeedback(Fixtures.thumb("nope", .up)) }
        await expectStoreError(.unknownPair(id: "nope")) { try await store.recordFeedback(Fixtures.choice("nope", .tie)) }
        await expectStoreError(.unknownPair(id: "single")) { try await store.recordFeedback(Fixtures.choice("single", .first)) }
        await expectStoreError(.unknownSample(requestID: "single", index: 1)) {
            try await store.recordFeedback(Fixtures.thumb("single", .up, sample: 1))
        }
        #expect(try await store.feedback(requestID: "single").isEmpty)
    }

    @Test(arguments: StoreKind.allCases)
    func verdictsMapToPreferences(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "pair")
        try await Fixtures.log(store, "shown2", n: 2)
        try await Fixtures.log(store, "single", pair: false)
        let cases: [(FeedbackEvent, Preference?)] = [
            (Fixtures.thumb("pair", .up), Preference(chosenIndex: 0, rejectedIndex: 1)),
            (Fixtures.thumb("pair", .down), Preference(chosenIndex: 1, rejectedIndex: 0)),
            (Fixtures.thumb("shown2", .up, sample: 1), Preference(chosenIndex: 1, rejectedIndex: 0)),
            (Fixtures.thumb("shown2", .down, sample: 1), Preference(chosenIndex: 0, rejectedIndex: 1)),
            (Fixtures.choice("pair-pair", .first), Preference(chosenIndex: 0, rejectedIndex: 1)),
            (Fixtures.choice("pair-pair", .second), Preference(chosenIndex: 1, rejectedIndex: 0)),
            (Fixtures.choice("pair-pair", .tie), nil),
            (Fixtures.thumb("single", .up), nil),
            (Fixtures.thumb("single", .down), nil),
        ]
        for (event, preference) in cases {
            let record = try await store.recordFeedback(event).record
            #expect(record.preference == preference, "\(event.subject)")
        }
        let stored = try await store.feedback(requestID: "pair")
        #expect(stored.map(\.verdict) == [.thumb(sampleIndex: 0, rating: .up), .thumb(sampleIndex: 0, rating: .down),
                                          .choice(.first), .choice(.second), .choice(.tie)])
    }
}

// MARK: - Labelled and unlabelled pairs

@Suite("Pairs") struct PairBehaviourTests {
    let folder = TempFolder()

    @Test(arguments: StoreKind.allCases)
    func theLatestVerdictCounts(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "r")
        _ = try await store.recordFeedback(Fixtures.thumb("r", .up))
        #expect(try await store.labelledPairs(.init()).map(\.chosen.index) == [0])
        _ = try await store.recordFeedback(Fixtures.thumb("r", .down, source: .simulator))
        let flipped = try #require(try await store.labelledPairs(.init()).first)
        #expect(flipped.chosen.index == 1 && flipped.rejected.index == 0 && flipped.source == .simulator)
        _ = try await store.recordFeedback(Fixtures.choice("pair-r", .tie))
        #expect(try await store.labelledPairs(.init()).isEmpty)
        let last = try await store.recordFeedback(Fixtures.choice("pair-r", .first, at: 9)).record
        let pair = try #require(try await store.labelledPairs(.init()).first)
        #expect(pair.chosen.index == 0 && pair.feedbackID == last.id && pair.labelledAt == Fixtures.time(9))
    }

    @Test(arguments: StoreKind.allCases)
    func labelledPairsCarryWhatTrainingNeeds(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let request = try await Fixtures.log(store, "r")
        let samples = Fixtures.request("r").1
        _ = try await store.recordFeedback(Fixtures.thumb("r", .down))
        let pair = try #require(try await store.labelledPairs(.init()).first)
        #expect(pair.requestID == "r" && pair.pairID == "pair-r" && pair.policyVersion == "v0")
        #expect(pair.messages == request.messages && pair.promptTokenIDs == request.promptTokenIDs)
        #expect(pair.chosen.tokenIDs == samples[1].tokenIDs && pair.chosen.logprobs == samples[1].logprobs)
        #expect(pair.chosen.text == samples[1].text && pair.rejected.text == samples[0].text)
        #expect(pair.rejected.tokenIDs == samples[0].tokenIDs && pair.rejected.logprobs == samples[0].logprobs)
    }

    @Test(arguments: StoreKind.allCases)
    func tiesIdenticalCancelledAndSingleResponsesAreNotTrainingPairs(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "good")
        try await Fixtures.log(store, "tie")
        try await Fixtures.log(store, "same", identical: true)
        try await Fixtures.log(store, "cut", finish: .cancelled)
        try await Fixtures.log(store, "failed", status: .failed)
        try await Fixtures.log(store, "single", pair: false)
        for id in ["good", "same", "cut", "failed", "single"] {
            _ = try await store.recordFeedback(Fixtures.thumb(id, .up))
        }
        _ = try await store.recordFeedback(Fixtures.choice("pair-tie", .tie))
        #expect(try await store.labelledPairs(.init()).map(\.requestID) == ["good"])
        #expect(try await store.countLabelledPairs(.init()) == 1)
    }

    /// KTO's reading: thumbs as rated responses (greedy replies included, the other sample assumed nothing),
    /// choices as pairs; the latest verdict decides which a request is.
    @Test(arguments: StoreKind.allCases)
    func thumbsAreRatedResponsesAndChoicesPairs(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        for id in ["up", "down2", "greedy", "chosen", "cut", "rethought"] { try await Fixtures.log(store, id, pair: id != "greedy") }
        try await Fixtures.log(store, "cut-greedy", pair: false, finish: .cancelled)
        _ = try await store.recordFeedback(Fixtures.thumb("up", .up))
        _ = try await store.recordFeedback(Fixtures.thumb("down2", .down, sample: 1))
        _ = try await store.recordFeedback(Fixtures.thumb("greedy", .up, source: .simulator))
        _ = try await store.recordFeedback(Fixtures.choice("pair-chosen", .second))
        _ = try await store.recordFeedback(Fixtures.thumb("cut-greedy", .down))
        _ = try await store.recordFeedback(Fixtures.thumb("rethought", .down))
        _ = try await store.recordFeedback(Fixtures.choice("pair-rethought", .first))
        let samples = Fixtures.request("down2").1
        let rated = try await store.ratedResponses(.init())
        #expect(rated.map(\.requestID) == ["up", "down2", "greedy"])
        #expect(rated.map(\.desirable) == [true, false, true])
        #expect(rated.map(\.sample.index) == [0, 1, 0])
        #expect(rated[1].sample.tokenIDs == samples[1].tokenIDs && rated[1].sample.logprobs == samples[1].logprobs)
        #expect(rated[2].source == .simulator && rated[2].policyVersion == "v0")
        #expect(try await store.countRatedResponses(.init()) == 3)
        #expect(try await store.ratedResponses(.init(sources: [.user], limit: 1)).map(\.requestID) == ["up"])
        #expect(try await store.labelledPairs(.init(choicesOnly: true)).map(\.requestID) == ["chosen", "rethought"])
        #expect(try await store.countLabelledPairs(.init(choicesOnly: true)) == 2)
        #expect(try await store.labelledPairs(.init()).map(\.requestID) == ["up", "down2", "chosen", "rethought"], "pairwise: thumbs on pairs too")
        // A phase that used a thumbed request makes it old.
        let phase = try await store.createPhase(PhaseDraft(trigger: .pairs, config: [:], baseVersion: "v0", createdAt: Fixtures.time(3)))
        try await store.recordPhasePairs(phaseID: phase.id, requestIDs: ["greedy"])
        #expect(try await store.ratedResponses(.init(unusedOnly: true)).map(\.requestID) == ["up", "down2"])
        #expect(try await store.countRatedResponses(.init(unusedOnly: false)) == 3)
    }

    @Test(arguments: StoreKind.allCases)
    func sourcesLimitAndOrderFilterThePairs(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        for id in ["a", "b", "c", "d"] { try await Fixtures.log(store, id) }
        _ = try await store.recordFeedback(Fixtures.thumb("c", .up, source: .simulator))
        _ = try await store.recordFeedback(Fixtures.thumb("a", .up))
        _ = try await store.recordFeedback(Fixtures.choice("pair-d", .second, source: .import))
        _ = try await store.recordFeedback(Fixtures.thumb("b", .down))
        #expect(try await store.labelledPairs(.init()).map(\.requestID) == ["c", "a", "d", "b"])
        #expect(try await store.labelledPairs(.init(limit: 2)).map(\.requestID) == ["c", "a"])
        #expect(try await store.labelledPairs(.init(limit: 0)).isEmpty)
        #expect(try await store.labelledPairs(.init(sources: [.user])).map(\.requestID) == ["a", "b"])
        #expect(try await store.labelledPairs(.init(sources: [.simulator, .import])).map(\.source) == [.simulator, .import])
        #expect(try await store.labelledPairs(.init(sources: [])).isEmpty)
        #expect(try await store.countLabelledPairs(.init(sources: [.user], limit: 1)) == 2)
    }

    @Test(arguments: StoreKind.allCases)
    func pairsUsedByAPhaseAreNotNewUnlessItFailed(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        for id in ["a", "b", "c"] {
            try await Fixtures.log(store, id)
            _ = try await store.recordFeedback(Fixtures.thumb(id, .up))
        }
        let phase = try await store.createPhase(PhaseDraft(trigger: .pairs, config: [:], baseVersion: "v0", createdAt: Fixtures.time(3)))
        try await store.recordPhasePairs(phaseID: phase.id, requestIDs: ["a", "b", "a"])
        #expect(try await store.phase(id: phase.id)?.pairsUsed == 2)
        #expect(try await store.labelledPairs(.init()).map(\.requestID) == ["c"])
        #expect(try await store.countLabelledPairs(.init()) == 1)
        #expect(try await store.countLabelledPairs(.init(unusedOnly: false)) == 3)

        _ = try await store.finishPhase(id: phase.id, outcome: .failed(error: "out of memory", metrics: nil), at: Fixtures.time(4))
        #expect(try await store.countLabelledPairs(.init()) == 3)

        let next = try await store.createPhase(PhaseDraft(trigger: .pairs, config: [:], baseVersion: "v0", createdAt: Fixtures.time(5)))
        _ = try await store.startPhase(id: next.id, at: Fixtures.time(5))
        try await store.recordPhasePairs(phaseID: next.id, requestIDs: ["a", "c"])
        let candidate = try await store.insertCandidate(Fixtures.candidate(phase: next.id))
        _ = try await store.finishPhase(id: next.id, outcome: .rejected(versionID: candidate.id, metrics: nil), at: Fixtures.time(6))
        #expect(try await store.labelledPairs(.init()).map(\.requestID) == ["b"])

        let third = try await store.createPhase(PhaseDraft(trigger: .pairs, config: [:], baseVersion: "v0", createdAt: Fixtures.time(7)))
        await expectStoreError(.unknownResponse(id: "zzz")) { try await store.recordPhasePairs(phaseID: third.id, requestIDs: ["b", "zzz"]) }
        #expect(try await store.phase(id: third.id)?.pairsUsed == 0)
        #expect(try await store.labelledPairs(.init()).map(\.requestID) == ["b"])
    }

    @Test(arguments: StoreKind.allCases)
    func unlabelledPairsAreThoseNobodyJudged(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        for id in ["a", "tied", "thumbed", "b"] { try await Fixtures.log(store, id) }
        try await Fixtures.log(store, "single", pair: false)
        try await Fixtures.log(store, "same", identical: true)
        try await Fixtures.log(store, "cut", finish: .cancelled)
        _ = try await store.recordFeedback(Fixtures.choice("pair-tied", .tie))
        _ = try await store.recordFeedback(Fixtures.thumb("thumbed", .down))

        let pairs = try await store.unlabelledPairs(limit: 10)
        #expect(pairs.map(\.requestID) == ["a", "b"])
        #expect(pairs.first?.pairID == "pair-a" && pairs.first?.samples.map(\.index) == [0, 1])
        #expect(pairs.first?.samples.map(\.text) == ["answer 0", "answer 1"])
        #expect(try await store.unlabelledPairs(limit: 1).map(\.requestID) == ["a"])
    }

    @Test(arguments: StoreKind.allCases)
    func activityCountsPerBucket(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        // Hour buckets: time(0) is 400 s after the hour 1_749_999_600, so time(0..<3200) and time(3200..<6800).
        for (id, pair, at) in [("old", true, -100_000.0), ("a", true, 1), ("b", true, 3300), ("single", false, 3400)] {
            let (request, samples) = Fixtures.request(id, pair: pair, at: at)
            try await store.logRequest(request, samples: samples)
        }
        _ = try await store.recordFeedback(Fixtures.thumb("a", .up, at: 2))
        _ = try await store.recordFeedback(Fixtures.choice("pair-b", .second, source: .simulator, at: 3500))
        _ = try await store.recordFeedback(Fixtures.thumb("single", .up, at: 3600))
        _ = try await store.recordFeedback(Fixtures.thumb("a", .down, at: 3700))   // a's verdict now counts in the second hour

        let buckets = try await store.activity(since: Fixtures.time(-50), bucketSeconds: 3600)
        #expect(buckets.map(\.start) == [Date(timeIntervalSince1970: 1_749_999_600), Date(timeIntervalSince1970: 1_750_003_200)])
        #expect(buckets.map(\.requests) == [1, 2])
        #expect(buckets.map(\.pairs) == [1, 1])
        #expect(buckets.map(\.feedback) == [[.user: 1], [.user: 2, .simulator: 1]])
        #expect(buckets.map(\.labelledPairs) == [0, 2])
        #expect(try await store.activity(since: Fixtures.time(-200_000), bucketSeconds: 86_400).map(\.requests).reduce(0, +) == 4)
        #expect(try await store.activity(since: Fixtures.time(4_000), bucketSeconds: 60).isEmpty)
    }
}

// MARK: - Importing labelled pairs

@Suite("Import") struct ImportBehaviourTests {
    let folder = TempFolder()

    private func entry(_ id: String, event: String? = nil) -> LabelledRequest {
        let (request, samples) = Fixtures.request(id)
        return LabelledRequest(request: request, samples: samples,
                               feedback: Fixtures.choice("pair-\(id)", .second, event: event ?? "import-\(id)", source: .import))
    }

    @Test(arguments: StoreKind.allCases)
    func importedRequestsAreLabelledTogether(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await store.importLabelledRequests([entry("a"), entry("b")])
        let pairs = try await store.labelledPairs(LabelledPairQuery())
        #expect(pairs.map(\.requestID) == ["a", "b"])
        #expect(pairs.allSatisfy { $0.source == .import && $0.chosen.index == 1 && $0.rejected.index == 0 })
    }

    /// One bad entry (here a pair id already taken) stores none of them: no request without its label.
    @Test(arguments: StoreKind.allCases)
    func aRefusedEntryStoresNothing(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        try await Fixtures.log(store, "taken")
        await expectStoreError(.duplicateRequest(id: "taken")) {
            try await store.importLabelledRequests([entry("fresh"), entry("taken")])
        }
        #expect(try await store.loggedRequest(id: "fresh") == nil)
        #expect(try await store.labelledPairs(LabelledPairQuery()).isEmpty)
        #expect(try await store.feedback(requestID: "fresh").isEmpty)
    }
}
