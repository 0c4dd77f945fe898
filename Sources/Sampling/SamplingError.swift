// SamplingError: what can go wrong when configuring the sampler or feeding it logits.
// Every case says what was wrong and carries a hint for the caller (the HTTP edge maps these to 400 / 500).

// MARK: - Errors

/// Errors from validating sampling parameters or sampling from a logits vector.
public enum SamplingError: Error, Equatable, CustomStringConvertible {
    /// A sampling parameter is outside its allowed range.
    case invalidParameter(name: String, value: String, hint: String)
    /// The logits vector has no entries.
    case emptyLogits
    /// The logits contain NaN or +∞, or every entry is −∞, so no distribution exists.
    case nonFiniteLogits

    /// What went wrong.
    public var message: String {
        switch self {
        case .invalidParameter(let name, let value, _): "invalid sampling parameter \(name) = \(value)"
        case .emptyLogits: "the logits vector is empty"
        case .nonFiniteLogits: "the logits contain NaN or +infinity, or all of them are -infinity"
        }
    }

    /// How to fix it.
    public var hint: String {
        switch self {
        case .invalidParameter(_, _, let hint): hint
        case .emptyLogits: "pass the model's full logits row for the position being sampled (one entry per vocabulary token)"
        case .nonFiniteLogits: "the forward pass produced invalid numbers; check the model weights and the input tokens"
        }
    }

    public var description: String { "\(message) (hint: \(hint))" }
}
