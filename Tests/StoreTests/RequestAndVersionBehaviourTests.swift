// RequestAndVersionBehaviourTests: logging requests with their samples and the policy-version lifecycle,
// written once against ProximaStore and run on SQLite (memory and file) and on the in-memory twin.

import Foundation
import ProximaCore
import Store
import Testing

// MARK: - Requests

@Suite("Requests") struct RequestBehaviourTests {
    let folder = TempFolder()

    @Test(arguments: StoreKind.allCases)
    func logRequestRoundTripsExactly(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        var (request, samples) = Fixtures.request("chatcmpl-1", n: 1)
        request.createdAt = Date(timeIntervalSince1970: 1_750_000_000.123_4)
        samples[0].logprobs = [-0.0, -Float.leastNonzeroMagnitude, -Float.infinity]
        samples[1].tokenIDs = [Int(Int32.max), 0, 49_151]
        samples[1].logprobs = [-3.402_823e38, -1e-30, -0.693_147_2]
        samples[1].finishReason = .length
        try await store.logRequest(request, samples: samples)

        let logged = try #require(try await store.loggedRequest(id: "chatcmpl-1"))
        var expected = request
        expected.createdAt = Date(timeIntervalSince1970: 1_750_000_000.123)
        #expect(logged.request == expected)
        #expect(logged.samples == samples)
        #expect(logged.samples.map { $0.logprobs.map(\.bitPattern) } == samples.map { $0.logprobs.map(\.bitPattern) })
        #expect(logged.samples.map(\.shown) == [true, false])
        #expect(try await store.loggedRequest(id: "chatcmpl-unknown") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func aClientReferenceFindsTheLatestRequestCarryingIt(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        for (id, ref, at) in [("first", "owui:chat:msg", 1.0), ("other", "owui:chat:other", 2), ("again", "owui:chat:msg", 3), ("none", nil, 4)] {
            var (request, samples) = Fixtures.request(id, at: at)
            request.clientRef = ref
            try await store.logRequest(request, samples: samples)
        }
        #expect(try await store.loggedRequest(clientRef: "owui:chat:msg")?.request.id == "again")
        #expect(try await store.loggedRequest(clientRef: "owui:chat:other")?.request.clientRef == "owui:chat:other")
        #expect(try await store.loggedRequest(clientRef: "owui:chat:none") == nil)
        #expect(try await store.loggedRequest(id: "none")?.request.clientRef == nil)
        for bad in ["", String(repeating: "é", count: 129)] {
            var (request, samples) = Fixtures.request("bad-\(bad.count)")
            request.clientRef = bad
            await expectInvalidRecord { try await store.logRequest(request, samples: samples) }
        }
    }

    @Test(arguments: StoreKind.allCases)
    func singleSampleTwoShownAndEmptySamplesRoundTrip(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        var (single, singleSamples) = Fixtures.request("single", pair: false)
        singleSamples[0] = SampleRecord(index: 0, tokenIDs: [], logprobs: [], text: "", finishReason: .cancelled, shown: true)
        single.status = .cancelled
        single.stream = true
        try await store.logRequest(single, samples: singleSamples)
        let (both, bothSamples) = Fixtures.request("both", n: 2)
        try await store.logRequest(both, samples: bothSamples)

        #expect(try await store.loggedRequest(id: "single") == LoggedRequest(request: single, samples: singleSamples))
        #expect(try await store.loggedRequest(id: "both")?.samples.map(\.shown) == [true, true])
    }

    @Test(arguments: StoreKind.allCases)
    func invalidRequestsAreRefusedAndWriteNothing(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let (request, samples) = Fixtures.request("bad")
        var mismatched = samples
        mismatched[1].logprobs.removeLast()
        var nan = samples
        nan[0].logprobs[0] = .nan
        var outOfRange = samples
        outOfRange[0].tokenIDs[0] = Int(Int32.max) + 1
        var hiddenShown = samples
        hiddenShown[1].shown = true
        var noPair = request
        noPair.pairID = nil
        var threeShown = request
        threeShown.n = 3
        var noMessages = request
        noMessages.messages = []

        await expectInvalidRecord { try await store.logRequest(request, samples: mismatched) }
        await expectInvalidRecord { try await store.logRequest(request, samples: nan) }
        await expectInvalidRecord { try await store.logRequest(request, samples: outOfRange) }
        await expectInvalidRecord { try await store.logRequest(request, samples: hiddenShown) }
        await expectInvalidRecord { try await store.logRequest(request, samples: [samples[1], samples[0]]) }
        await expectInvalidRecord { try await store.logRequest(request, samples: [samples[0]]) }
        await expectInvalidRecord { try await store.logRequest(noPair, samples: samples) }
        await expectInvalidRecord { try await store.logRequest(threeShown, samples: samples) }
        await expectInvalidRecord { try await store.logRequest(noMessages, samples: samples) }
        var unknownVersion = request
        unknownVersion.policyVersion = "v9"
        await expectStoreError(.unknownVersion(id: "v9")) { try await store.logRequest(unknownVersion, samples: samples) }
        #expect(try await store.loggedRequest(id: "bad") == nil)
    }

    @Test(arguments: StoreKind.allCases)
    func duplicateIDsAreRefused(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let (request, samples) = Fixtures.request("dup")
        try await store.logRequest(request, samples: samples)
        await expectStoreError(.duplicateRequest(id: "dup")) { try await store.logRequest(request, samples: samples) }
        var samePair = request
        samePair.id = "other"
        await expectStoreError(.duplicateRequest(id: "pair-dup")) { try await store.logRequest(samePair, samples: samples) }
        #expect(try await store.loggedRequest(id: "other") == nil)
    }
}

// MARK: - Policy versions

@Suite("Policy versions") struct PolicyVersionBehaviourTests {
    let folder = TempFolder()

    @Test(arguments: StoreKind.allCases)
    func baseVersionIsCreatedOnceAndGuardsTheModel(kind: StoreKind) async throws {
        let store = try await kind.make(in: folder)
        #expect(try await store.servingVersion() == nil)
        let base = try await store.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(0))
        #expect(base == PolicyVersionRecord(id: "v0", parent: nil, createdAt: Fixtures.time(0), status: .serving, adapter: nil,
                                            state: nil, phaseID: nil, baseModelSHA256: Fixtures.baseSHA, metrics: nil))
        #expect(try await store.ensureBaseVersion(baseModelSHA256: Fixtures.baseSHA, at: Fixtures.time(5)) == base)
        await expectStoreError(.baseModelMismatch(stored: Fixtures.baseSHA, given: Fixtures.otherSHA)) {
            try await store.ensureBaseVersion(baseModelSHA256: Fixtures.otherSHA, at: Fixtures.time(5))
        }
        await expectInvalidRecord { try await store.ensureBaseVersion(baseModelSHA256: "ABC", at: Fixtures.time(5)) }
        #expect(try await store.policyVersions() == [base])
    }

    @Test(arguments: StoreKind.allCases)
    func candidatesGetTheNextIDAndTheParentsBase(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let first = try await store.insertCandidate(Fixtures.candidate())
        let second = try await store.insertCandidate(Fixtures.candidate(parent: first.id, tag: "2"))
        #expect((first.id, second.id) == ("v1", "v2"))
        #expect(second.parent == "v1" && second.status == .candidate && second.baseModelSHA256 == Fixtures.baseSHA)
        #expect(second.metrics == ["win_rate": 0.625, "pairs": 16])
        #expect(try await store.policyVersion(id: "v2") == second)
        #expect(try await store.policyVersions().map(\.id) == ["v0", "v1", "v2"])

        await expectStoreError(.unknownVersion(id: "v7")) { try await store.insertCandidate(Fixtures.candidate(parent: "v7")) }
        await expectStoreError(.unknownPhase(id: 42)) { try await store.insertCandidate(Fixtures.candidate(phase: 42)) }
        var badHash = Fixtures.candidate()
        badHash.adapter?.sha256 = "xyz"
        await expectInvalidRecord { try await store.insertCandidate(badHash) }
        #expect(try await store.policyVersions().count == 3)
    }

    @Test(arguments: StoreKind.allCases)
    func setServingSwapsAtomicallyAndRollsBack(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let candidate = try await store.insertCandidate(Fixtures.candidate())

        let promoted = try await store.setServing(candidate.id)
        #expect(promoted.serving.id == "v1" && promoted.serving.status == .serving)
        #expect(promoted.retired?.id == "v0" && promoted.retired?.status == .retired)
        #expect(try await store.policyVersions().map(\.status) == [.retired, .serving])

        let rolledBack = try await store.setServing("v0")
        #expect(rolledBack.serving.id == "v0" && rolledBack.retired?.id == "v1")
        #expect(try await store.servingVersion()?.id == "v0")
        let again = try await store.setServing("v0")
        #expect(again.serving == rolledBack.serving && again.retired == nil)

        let rejected = try await store.insertCandidate(Fixtures.candidate(tag: "3"))
        _ = try await store.markRejected(rejected.id)
        await expectStoreError(.invalidTransition(what: "version v2", from: "rejected", to: "serving", hint: "")) {
            try await store.setServing(rejected.id)
        }
        await expectStoreError(.unknownVersion(id: "v9")) { try await store.setServing("v9") }
        #expect(try await store.policyVersions().map(\.status) == [.serving, .retired, .rejected])
    }

    @Test(arguments: StoreKind.allCases)
    func onlyCandidatesCanBeRejected(kind: StoreKind) async throws {
        let store = try await Fixtures.seeded(kind, in: folder)
        let candidate = try await store.insertCandidate(Fixtures.candidate())
        #expect(try await store.markRejected(candidate.id).status == .rejected)
        #expect(try await store.markRejected(candidate.id).status == .rejected)
        await expectStoreError(.invalidTransition(what: "version v0", from: "serving", to: "rejected", hint: "")) {
            try await store.markRejected("v0")
        }
        await expectStoreError(.unknownVersion(id: "v5")) { try await store.markRejected("v5") }
    }
}
