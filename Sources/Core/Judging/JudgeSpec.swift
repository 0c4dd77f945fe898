// JudgeSpec: which preference judge a setting names — `learner.simulator` in the server, `--simulator` in
// `proxima experiment` and `proxima simulate`, a grid's `simulator` key. One parser for all of them; the
// composition layer builds the judge.

import Foundation

public enum JudgeSpec: Sendable, Equatable, CustomStringConvertible {
    /// The rubric simulator (../shared/data/rubric).
    case rubric
    /// A local GGUF model asked which answer is better, in both orders, from the log-probs of the labels.
    case llm(path: String)
    /// An OpenAI-compatible chat endpoint (`base` ends where `/chat/completions` is appended), the same
    /// two-order protocol on the returned log-probs or text.
    case remote(base: URL, model: String, timeoutSeconds: Double, attempts: Int)

    public static let forms = "rubric, llm:<gguf path> or remote:<base url>[?model=<name>&timeout=<s>&attempts=<n>]"

    /// Parses a spec; throws one sentence naming what is wrong.
    public init(parsing text: String) throws(JudgeSpecError) {
        if text == "rubric" { self = .rubric; return }
        if text.hasPrefix("llm:") {
            let path = String(text.dropFirst(4))
            guard !path.isEmpty else { throw JudgeSpecError("llm: needs the path of a GGUF model (llm:<path>)") }
            self = .llm(path: path)
            return
        }
        if text.hasPrefix("remote:") {
            let rest = String(text.dropFirst(7))
            guard var parts = URLComponents(string: rest), let scheme = parts.scheme, ["http", "https"].contains(scheme), parts.host != nil else {
                throw JudgeSpecError("remote: needs an http(s) URL (remote:http://host:port/v1?model=name), got '\(rest)'")
            }
            var model = "default", timeout = 30.0, attempts = 3
            for item in parts.queryItems ?? [] {
                switch item.name {
                case "model": model = item.value ?? ""
                case "timeout":
                    guard let t = item.value.flatMap(Double.init), t > 0, t <= 600 else { throw JudgeSpecError("remote: timeout must be in (0, 600] seconds") }
                    timeout = t
                case "attempts":
                    guard let n = item.value.flatMap(Int.init), (1...10).contains(n) else { throw JudgeSpecError("remote: attempts must be in 1...10") }
                    attempts = n
                default: throw JudgeSpecError("remote: unknown parameter '\(item.name)' (known: model, timeout, attempts)")
                }
            }
            guard !model.isEmpty else { throw JudgeSpecError("remote: model must not be empty") }
            parts.queryItems = nil
            self = .remote(base: parts.url!, model: model, timeoutSeconds: timeout, attempts: attempts)
            return
        }
        throw JudgeSpecError("unknown judge '\(text)' (known: \(Self.forms))")
    }

    public var description: String {
        switch self {
        case .rubric: "rubric"
        case let .llm(path): "llm:\(path)"
        case let .remote(base, model, _, _): "remote:\(base.absoluteString)?model=\(model)"
        }
    }
}

public struct JudgeSpecError: Error, CustomStringConvertible, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
