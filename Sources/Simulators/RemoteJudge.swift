// RemoteJudge: an OpenAI-compatible chat endpoint as the preference judge, asked the same question as the
// local LLM judge in both orders (PairwiseJudgePrompt). Each answer's preference comes from the returned
// log-probs of "A" and "B" for the first token when the endpoint gives them (`top_logprobs`), else from the
// reply's first letter. Each request has a timeout and is retried with backoff (0.5 s, 1 s, 2 s, …) on a
// refused connection, a timeout, a 5xx or 429 answer, or a body that is not the expected JSON; when every
// attempt fails the judgement throws `RemoteJudgeError` — the caller leaves the pair unlabelled, nothing is
// mislabelled. The API key comes from the environment (PROXIMA_JUDGE_API_KEY), never from a setting.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import ProximaCore

public struct RemoteJudgeError: Error, CustomStringConvertible, Equatable {
    public var description: String
    init(_ description: String) { self.description = description }
}

public struct RemoteJudge: PreferenceSimulator {
    public let base: URL
    public let model: String
    public let timeoutSeconds: Double
    public let attempts: Int
    public let apiKey: String?
    /// The first retry's delay; it doubles on every further one.
    public var backoffSeconds = 0.5
    public var name: String { "remote:\(base.host ?? "")/\(model)" }
    private let session: URLSession

    public init(base: URL, model: String, timeoutSeconds: Double = 30, attempts: Int = 3,
                apiKey: String? = ProcessInfo.processInfo.environment["PROXIMA_JUDGE_API_KEY"]) {
        self.base = base
        self.model = model
        self.timeoutSeconds = timeoutSeconds
        self.attempts = attempts
        self.apiKey = apiKey
        let configuration = URLSessionConfiguration.ephemeral
        configuration.timeoutIntervalForRequest = timeoutSeconds
        configuration.timeoutIntervalForResource = timeoutSeconds
        session = URLSession(configuration: configuration)
    }

    public func judge(prompt: String, a: Candidate, b: Candidate, rng: inout some RandomNumberGenerator) async throws -> Verdict {
        let forward = try await preferenceForFirst(PairwiseJudgePrompt.messages(prompt: prompt, first: a, second: b))
        let swapped = try await preferenceForFirst(PairwiseJudgePrompt.messages(prompt: prompt, first: b, second: a))
        return PairwiseJudgePrompt.verdict(forward: forward, swapped: swapped)
    }

    /// > 0: the reply prefers answer A; < 0: B; nil: the reply names neither.
    func preferenceForFirst(_ messages: [ChatMessage]) async throws -> Double? {
        let body: [String: Any] = [
            "model": model, "messages": messages.map { ["role": $0.role, "content": $0.content] },
            "max_tokens": 1, "temperature": 0, "logprobs": true, "top_logprobs": 5,
        ]
        var request = URLRequest(url: base.appendingPathComponent("chat/completions"))
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        var problem = ""
        for attempt in 0..<attempts {
            if attempt > 0 { try await Task.sleep(for: .seconds(backoffSeconds * pow(2, Double(attempt - 1)))) }
            do {
                let (data, response) = try await session.data(for: request)
                let status = (response as? HTTPURLResponse)?.statusCode ?? 0
                if status == 429 || status >= 500 { problem = "HTTP \(status)"; continue }
                guard status == 200 else {
                    // A 4xx other than 429 will not get better by asking again.
                    throw RemoteJudgeError("remote judge \(base.absoluteString): HTTP \(status): \(String(decoding: data.prefix(200), as: UTF8.self))")
                }
                switch Self.reply(in: data) {
                case let .prefers(value)?: return value
                case .neither?: return nil
                case nil: problem = "a reply that is not a chat completion"
                }
            } catch let error as RemoteJudgeError {
                throw error
            } catch is CancellationError {
                throw CancellationError()
            } catch {
                problem = (error as? URLError).map { Self.describe($0) } ?? "\(error)"
            }
        }
        throw RemoteJudgeError("remote judge \(base.absoluteString) failed \(attempts) time\(attempts == 1 ? "" : "s"): \(problem)")
    }

    private static func describe(_ error: URLError) -> String {
        switch error.code {
        case .timedOut: "timed out"
        case .cannotConnectToHost: "connection refused"
        case .cannotFindHost: "unknown host"
        case .networkConnectionLost: "connection lost"
        default: error.localizedDescription
        }
    }

    enum Reply: Equatable {
        /// > 0: answer A; < 0: answer B.
        case prefers(Double)
        /// The reply names neither label.
        case neither
    }

    /// What a chat completion body says, or nil when it is not a chat completion.
    static func reply(in data: Data) -> Reply? {
        guard let json = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let choice = (json["choices"] as? [[String: Any]])?.first else { return nil }
        if let content = ((choice["logprobs"] as? [String: Any])?["content"] as? [[String: Any]])?.first,
           let top = content["top_logprobs"] as? [[String: Any]] {
            var lp: [String: Double] = [:]
            for t in top {
                if let token = (t["token"] as? String)?.trimmingCharacters(in: .whitespaces), let value = t["logprob"] as? Double,
                   ["A", "B"].contains(token) { lp[token] = max(lp[token] ?? -.infinity, value) }
            }
            switch (lp["A"], lp["B"]) {
            case let (a?, b?): return .prefers(a - b)
            case (_?, nil): return .prefers(1)
            case (nil, _?): return .prefers(-1)
            case (nil, nil): break
            }
        }
        guard let message = choice["message"] as? [String: Any], let text = message["content"] as? String else { return nil }
        switch text.trimmingCharacters(in: .whitespacesAndNewlines).first {
        case "A": return .prefers(1)
        case "B": return .prefers(-1)
        default: return .neither
        }
    }
}
