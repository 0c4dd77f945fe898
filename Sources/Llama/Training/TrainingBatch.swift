// TrainingBatch: where the tokens of a batch of preference pairs go. Each pair is laid out as
// [prompt | chosen inputs | rejected inputs]: the prompt is computed once for both responses, which sit at
// the same positions after it; a response's last token is only a target, never an input.

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

/// The row layout of a batch of pairs for one forward/backward pass.
public struct TrainingBatch: Sendable {
    public let pairs: [PreferencePair]
    /// Input token and position of every row.
    let tokens: [Int]
    let positions: [Int]
    /// Attention blocks per pair: the prompt, then each response's rows with the prompt as prefix.
    let groups: [[AttentionBlock]]
    /// Rows whose logits are computed, in order.
    let logitRows: [Int]
    /// For sequence s = 2·pair + (0 chosen | 1 rejected): (index into logitRows, target token) per token.
    let targets: [[(logit: Int, token: Int)]]

    public var rowCount: Int { tokens.count }
    public var logitRowCount: Int { logitRows.count }

    public init(pairs: [PreferencePair]) {
        var tokens: [Int] = [], positions: [Int] = [], groups: [[AttentionBlock]] = []
        var logitRows: [Int] = [], targets: [[(logit: Int, token: Int)]] = []
        for pair in pairs {
            let promptRows = tokens.count..<(tokens.count + pair.prompt.count)
            tokens += pair.prompt
            positions += Array(0..<pair.prompt.count)
            let lastPromptLogit = logitRows.count
            logitRows.append(promptRows.upperBound - 1)
            var blocks = [AttentionBlock(rows: promptRows, prefix: nil)]
            for response in [pair.chosen, pair.rejected] {
                let inputs = response.dropLast()
                let rows = tokens.count..<(tokens.count + inputs.count)
                tokens += inputs
                positions += Array(pair.prompt.count..<(pair.prompt.count + inputs.count))
                blocks.append(AttentionBlock(rows: rows, prefix: promptRows))
                var sequence = [(logit: lastPromptLogit, token: response[0])]
                for (i, row) in rows.enumerated() {
                    sequence.append((logitRows.count, response[i + 1]))
                    logitRows.append(row)
                }
                targets.append(sequence)
            }
            groups.append(blocks)
        }
        self.pairs = pairs
        self.tokens = tokens
        self.positions = positions
        self.groups = groups
        self.logitRows = logitRows
        self.targets = targets
    }
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
