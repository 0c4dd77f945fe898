// TrainingData: what a phase trains on, read from the store the way its loss needs it.
// - A pairwise loss (DPO, IPO, SLiC) takes labelled pairs. A thumb on a request with two samples becomes a pair
//   by assuming the hidden sample was the opposite (up: the rated sample ≻ the other; down: the other ≻ it);
//   a thumb on a request with one sample (greedy) teaches it nothing.
// - KTO takes pairs labelled by an A/B choice (one desirable and one undesirable response) and every thumbed
//   response on its own, greedy replies included; the other sample of a thumbed pair is not assumed anything.

import Learning
import ProximaCore

public enum TrainingData {
    /// How many unused examples a phase with `loss` would find (what the N-new-pairs trigger counts).
    public static func countUnused(in store: any ProximaStore, loss: PreferenceLoss) async throws -> Int {
        if loss.isPairwise { return try await store.countLabelledPairs(LabelledPairQuery(unusedOnly: true)) }
        return try await store.countLabelledPairs(LabelledPairQuery(unusedOnly: true, choicesOnly: true))
            + store.countRatedResponses(LabelledPairQuery(unusedOnly: true))
    }

    /// Up to `limit` examples (only those no phase used, with `unusedOnly`), oldest verdict first, with the
    /// requests they come from (which the phase records as used). Examples that do not fit `contextLength` are
    /// left out.
    public static func read(from store: any ProximaStore, loss: PreferenceLoss, unusedOnly: Bool = true, limit: Int? = nil,
                            contextLength: Int) async throws -> (requestIDs: [String], examples: [TrainingExample]) {
        let pairs = try await store.labelledPairs(LabelledPairQuery(unusedOnly: unusedOnly, limit: limit, choicesOnly: !loss.isPairwise))
        var requestIDs = pairs.map(\.requestID)
        var examples = pairs.compactMap { $0.example(contextLength: contextLength) }
        if !loss.isPairwise && pairs.count < limit ?? .max {
            let rated = try await store.ratedResponses(LabelledPairQuery(unusedOnly: unusedOnly, limit: limit.map { $0 - pairs.count }))
            requestIDs += rated.map(\.requestID)
            examples += rated.compactMap { $0.example(contextLength: contextLength) }
        }
        return (requestIDs, examples)
    }
}

extension RatedResponse {
    /// The KTO example (nil when the response lacks log-probs or does not fit in `contextLength`).
    public func example(contextLength: Int) -> TrainingExample? {
        TrainingExample(prompt: promptTokenIDs, response: sample.tokenIDs, logprobs: sample.logprobs, desirable: desirable,
                        contextLength: contextLength)
    }
}
