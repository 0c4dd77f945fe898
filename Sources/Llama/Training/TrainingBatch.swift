// TrainingBatch: where the tokens of a training batch go. Each prompt is laid out once, followed by the inputs
// of each of its responses (a pair's chosen and rejected, or a single rated response): the prompt is computed
// once for all of them, and they sit at the same positions after it; a response's last token is only a
// target, never an input.

import ProximaNumerics

/// A preference pair as token ids: a prompt and two responses to it (chosen ≻ rejected).
public struct PreferencePair: Sendable, Equatable {
    public var prompt: [Int]
    public var chosen: [Int]
    public var rejected: [Int]

    public init(prompt: [Int], chosen: [Int], rejected: [Int]) {
        precondition(!prompt.isEmpty && !chosen.isEmpty && !rejected.isEmpty, "a pair needs a prompt and two non-empty responses")
        self.prompt = prompt; self.chosen = chosen; self.rejected = rejected
    }
}

/// A prompt with one or more responses to it: a preference pair's two, or the one response a thumb rated.
public struct PromptResponses: Sendable, Equatable {
    public var prompt: [Int]
    public var responses: [[Int]]

    public init(prompt: [Int], responses: [[Int]]) {
        precondition(!prompt.isEmpty && !responses.isEmpty && responses.allSatisfy { !$0.isEmpty },
                     "a prompt and at least one non-empty response")
        self.prompt = prompt; self.responses = responses
    }
}

/// The row layout of a batch for one forward/backward pass: each prompt once, each of its responses after it.
public struct TrainingBatch: Sendable {
    public let groups: [PromptResponses]
    /// Input token and position of every row.
    let tokens: [Int]
    let positions: [Int]
    /// Attention blocks per group: the prompt, then each response's rows with the prompt as prefix.
    let attentionGroups: [[AttentionBlock]]
    /// Rows whose logits are computed, in order.
    let logitRows: [Int]
    /// Per response (groups in order, their responses in order): (index into logitRows, target token) per token.
    let targets: [[(logit: Int, token: Int)]]

    public var rowCount: Int { tokens.count }
    public var logitRowCount: Int { logitRows.count }
    /// Responses in the batch, the length of the forward's results.
    public var sequenceCount: Int { targets.count }

    /// Pairs: [prompt | chosen inputs | rejected inputs] each; sequence 2p is pair p's chosen, 2p + 1 its rejected.
    public init(pairs: [PreferencePair]) {
        self.init(groups: pairs.map { PromptResponses(prompt: $0.prompt, responses: [$0.chosen, $0.rejected]) })
    }

    public init(groups: [PromptResponses]) {
        var tokens: [Int] = [], positions: [Int] = [], attentionGroups: [[AttentionBlock]] = []
        var logitRows: [Int] = [], targets: [[(logit: Int, token: Int)]] = []
        for group in groups {
            let promptRows = tokens.count..<(tokens.count + group.prompt.count)
            tokens += group.prompt
            positions += Array(0..<group.prompt.count)
            let lastPromptLogit = logitRows.count
            logitRows.append(promptRows.upperBound - 1)
            var blocks = [AttentionBlock(rows: promptRows, prefix: nil)]
            for response in group.responses {
                let inputs = response.dropLast()
                let rows = tokens.count..<(tokens.count + inputs.count)
                tokens += inputs
                positions += Array(group.prompt.count..<(group.prompt.count + inputs.count))
                blocks.append(AttentionBlock(rows: rows, prefix: promptRows))
                var sequence = [(logit: lastPromptLogit, token: response[0])]
                for (i, row) in rows.enumerated() {
                    sequence.append((logitRows.count, response[i + 1]))
                    logitRows.append(row)
                }
                targets.append(sequence)
            }
            attentionGroups.append(blocks)
        }
        self.groups = groups
        self.tokens = tokens
        self.positions = positions
        self.attentionGroups = attentionGroups
        self.logitRows = logitRows
        self.targets = targets
    }
}

/// One response's log-probability under a model (the sum over its tokens) and its length.
public struct SequenceLogProb: Sendable, Equatable {
    public var logProb: Double
    public var tokens: Int
    public init(logProb: Double, tokens: Int) { self.logProb = logProb; self.tokens = tokens }
}

/// The log-probability of each response of a pair under a model (sums over response tokens), with the
/// responses' lengths: what the training forward computes and what the preference losses take.
public struct PairLogProbs: Sendable, Equatable {
    public var chosen: Double
    public var rejected: Double
    public var chosenTokens: Int
    public var rejectedTokens: Int

    public init(chosen: Double, rejected: Double, chosenTokens: Int, rejectedTokens: Int) {
        self.chosen = chosen; self.rejected = rejected
        self.chosenTokens = chosenTokens; self.rejectedTokens = rejectedTokens
    }
}
