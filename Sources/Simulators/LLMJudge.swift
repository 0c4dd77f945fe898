// LLMJudge: a local GGUF model as the preference judge. It is asked which answer is better twice, with the
// candidates in both orders; each time the verdict is the sign of log p("A") − log p("B") for its reply's first
// token. When the two orders disagree (the model prefers a position, not an answer) the verdict is a tie.

import Foundation
import Inference
import ProximaCore

/// Scores the two labels for a question: log p(A) − log p(B) of the reply's first token.
public protocol LabelScorer: Sendable {
    func preferenceForA(_ messages: [ChatMessage]) throws -> Double
}

public struct LLMJudge: PreferenceSimulator {
    public let name: String
    private let scorer: any LabelScorer

    public init(name: String, scorer: any LabelScorer) {
        self.name = name
        self.scorer = scorer
    }

    public func judge(prompt: String, a: Candidate, b: Candidate, rng: inout some RandomNumberGenerator) async throws -> Verdict {
        let scorer = self.scorer
        let forward = PairwiseJudgePrompt.messages(prompt: prompt, first: a, second: b)
        let swapped = PairwiseJudgePrompt.messages(prompt: prompt, first: b, second: a)
        // The forward passes block for a fraction of a second each: off the cooperative threads.
        let (f, s) = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<(Double, Double), Error>) in
            Thread.detachNewThread {
                continuation.resume(with: Result { (try scorer.preferenceForA(forward), try scorer.preferenceForA(swapped)) })
            }
        }
        return PairwiseJudgePrompt.verdict(forward: f, swapped: s)
    }
}

/// A model's label scores: the question in its chat template, the log-probs of "A" and "B" as the first token.
public struct ModelLabelScorer: LabelScorer {
    private let model: ModelBundle
    private let scorer: NextTokenScorer
    private let labels: [Int]

    public init(model: ModelBundle, scorer: NextTokenScorer) throws(JudgeSpecError) {
        let ids = ["A", "B"].map { model.tokenizer.encode($0) }
        guard ids.allSatisfy({ $0.count == 1 }), ids[0] != ids[1] else {
            throw JudgeSpecError("the judge model \(model.name) has no single tokens for the labels A and B")
        }
        self.model = model
        self.scorer = scorer
        labels = ids.map { $0[0] }
    }

    public func preferenceForA(_ messages: [ChatMessage]) throws -> Double {
        let prompt = try model.promptTokens(for: messages)
        guard prompt.count < model.weights.config.contextLength else { return 0 }   // too long to ask: no preference (a tie)
        let lp = scorer.logProbs(after: prompt, of: labels)
        return lp[0] - lp[1]
    }
}
