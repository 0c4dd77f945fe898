// ModelFileError: every way a model or adapter file can be refused, each naming the file and the problem.

/// Why a model or adapter file was refused. The message names the file, the key or tensor, and the problem.
public enum ModelFileError: Error, Equatable, CustomStringConvertible {
    case unreadable(path: String, reason: String)
    /// The bytes do not follow the format: `what` names the header field, key or tensor.
    case malformed(path: String, what: String, problem: String)
    /// Well-formed but not something Proxima reads (version, tensor type, architecture).
    case unsupported(path: String, what: String, problem: String)
    /// A key or tensor the model needs is absent.
    case missing(path: String, what: String)

    public var description: String {
        switch self {
        case let .unreadable(path, reason): return "\(path): cannot read: \(reason)"
        case let .malformed(path, what, problem): return "\(path): \(what): \(problem)"
        case let .unsupported(path, what, problem): return "\(path): \(what): unsupported: \(problem)"
        case let .missing(path, what): return "\(path): missing \(what)"
        }
    }
}
