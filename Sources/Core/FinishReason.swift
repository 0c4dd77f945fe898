// FinishReason: why a sampled response ended — what the engine reports, the API returns and the store keeps.

public enum FinishReason: String, Sendable, Hashable, Codable, CaseIterable {
    /// An end-of-generation token was sampled (it is the last generated token), or a stop string was reached.
    case stop
    /// The token limit or the context length was reached.
    case length
    /// The caller cancelled it (client gone, shutdown).
    case cancelled
}
