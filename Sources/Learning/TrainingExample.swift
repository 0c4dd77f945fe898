// TrainingExample: what a phase trains on — a labelled pair (chosen ≻ rejected) or one rated response
// (desirable or undesirable), with the log-probs its behavior policy gave each response when it sampled it.
// Pairwise losses take pairs; KTO takes both, a pair as one desirable and one undesirable response.

import Llama

public struct TrainingExample: Sendable, Equatable {
    public enum Label: Sendable, Equatable {
        /// responses[0] ≻ responses[1].
        case preference
        /// One response, rated good (a thumb up).
        case desirable
        /// One response, rated bad (a thumb down).
        case undesirable
    }

    public var prompt: [Int]
    public var responses: [[Int]]
    /// The behavior policy's summed log-prob of each response.
    public var behavior: [Double]
    public var label: Label

    public init(pair: PreferencePair, behavior: PairLogProbs) {
        prompt = pair.prompt
        responses = [pair.chosen, pair.rejected]
        self.behavior = [behavior.chosen, behavior.rejected]
        label = .preference
    }

    /// A pair from its token ids and the behavior policy's per-token log-probs of each response; nil when the
    /// prompt or a response has no tokens, a token lacks its log-prob, or the pair does not fit `contextLength`.
    public init?(prompt: [Int], chosen: [Int], chosenLogprobs: [Float], rejected: [Int], rejectedLogprobs: [Float],
                 contextLength: Int) {
        guard !prompt.isEmpty, !chosen.isEmpty, !rejected.isEmpty,
              chosenLogprobs.count == chosen.count, rejectedLogprobs.count == rejected.count,
              prompt.count + max(chosen.count, rejected.count) <= contextLength else { return nil }
        self.init(pair: PreferencePair(prompt: prompt, chosen: chosen, rejected: rejected),
                  behavior: PairLogProbs(chosen: chosenLogprobs.reduce(0) { $0 + Double($1) },
                                         rejected: rejectedLogprobs.reduce(0) { $0 + Double($1) },
                                         chosenTokens: chosen.count, rejectedTokens: rejected.count))
    }

    /// One rated response; nil on the same grounds as a pair.
    public init?(prompt: [Int], response: [Int], logprobs: [Float], desirable: Bool, contextLength: Int) {
        guard !prompt.isEmpty, !response.isEmpty, logprobs.count == response.count,
              prompt.count + response.count <= contextLength else { return nil }
        self.prompt = prompt
        responses = [response]
        behavior = [logprobs.reduce(0) { $0 + Double($1) }]
        label = desirable ? .desirable : .undesirable
    }

    /// Whether each response is desirable, in order (a pair's chosen is, its rejected is not).
    public var desirability: [Bool] {
        switch label {
        case .preference: [true, false]
        case .desirable: [true]
        case .undesirable: [false]
        }
    }

    /// The behavior log-probs of a pair.
    public var behaviorPair: PairLogProbs {
        precondition(label == .preference)
        return PairLogProbs(chosen: behavior[0], rejected: behavior[1], chosenTokens: responses[0].count, rejectedTokens: responses[1].count)
    }

    var group: PromptResponses { PromptResponses(prompt: prompt, responses: responses) }
}
