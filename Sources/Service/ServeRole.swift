// ServeRole: what one `proxima serve` process does in a deployment (`role` in config/proxima.yaml, `--role`).

/// `all` is one process doing everything (the default, and the only role SQLite needs); on a shared PostgreSQL
/// database several `replica`s serve chat and one process with `all` or `learner` runs phases.
public enum ServeRole: String, Sendable, CaseIterable, Codable {
    /// Chat, feedback, the admin API and the learner — a standby that serves chat while another process holds the
    /// database's learner lock.
    case all
    /// Chat, feedback and the admin API; phases an operator starts here are queued for the learner.
    case replica
    /// The learner and the admin API; no chat (requests get 421 naming the role), so phases do not share cores
    /// with generation.
    case learner

    /// Whether this process runs phases (or waits to, as a standby).
    public var learns: Bool { self != .replica }
    /// Whether this process generates chat completions.
    public var chats: Bool { self != .learner }
}
