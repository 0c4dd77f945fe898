// APIClient: the few calls `proxima simulate` makes to a running server (chat completions, feedback, health),
// over URLSession, with OpenAI-shaped errors turned into one-line messages.

import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

struct APIClient: Sendable {
    let base: URL
    let apiKey: String?

    struct Choice: Sendable {
        var text: String
        var finishReason: String
    }

    struct Completion: Sendable {
        var id: String
        var pairID: String?
        var policyVersion: String
        var choices: [Choice]
    }

    /// POST /v1/chat/completions (non-streaming).
    func chat(prompt: String, n: Int, temperature: Double, maxTokens: Int, seed: UInt64) async throws -> Completion {
        let body: [String: Any] = ["messages": [["role": "user", "content": prompt]], "n": n, "temperature": temperature,
                                   "max_tokens": maxTokens, "seed": Int64(bitPattern: seed >> 1)]
        let json = try await post("v1/chat/completions", body)
        guard let id = json["id"] as? String, let choices = json["choices"] as? [[String: Any]],
              let proxima = json["proxima"] as? [String: Any], let version = proxima["policy_version"] as? String else {
            throw CLIError("unexpected chat response: \(json)")
        }
        return Completion(id: id, pairID: proxima["pair_id"] as? String, policyVersion: version, choices: choices.map {
            Choice(text: ($0["message"] as? [String: Any])?["content"] as? String ?? "", finishReason: $0["finish_reason"] as? String ?? "")
        })
    }

    /// POST /v1/feedback with an A/B choice (0, 1 or "tie").
    func choose(pairID: String, choice: Any, eventID: String) async throws {
        _ = try await post("v1/feedback", ["pair_id": pairID, "choice": choice, "event_id": eventID])
    }

    /// Waits while the newest phase is queued or running (GET /admin/phases).
    func waitWhilePhaseRuns() async throws {
        while true {
            let (data, response) = try await URLSession.shared.data(for: request("admin/phases"))
            guard (response as? HTTPURLResponse)?.statusCode == 200,
                  let phases = (try? JSONSerialization.jsonObject(with: data) as? [String: Any])?["data"] as? [[String: Any]] else {
                throw CLIError("GET /admin/phases failed (--wait-for-phases needs the learner and an admin key when keys are set)")
            }
            guard let last = phases.last?["status"] as? String, last == "queued" || last == "running" else { return }
            try await Task.sleep(for: .seconds(1))
        }
    }

    /// GET /ready until it answers 200 or `timeout` passes.
    func waitUntilReady(timeout: Duration) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            var ready = request("ready")
            ready.timeoutInterval = 5
            if let (_, response) = try? await URLSession.shared.data(for: ready), (response as? HTTPURLResponse)?.statusCode == 200 { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        throw CLIError("\(base) is not ready after \(timeout)")
    }

    /// A request for `path` with the API key, if any.
    private func request(_ path: String) -> URLRequest {
        var request = URLRequest(url: base.appendingPathComponent(path))
        if let apiKey { request.setValue("Bearer \(apiKey)", forHTTPHeaderField: "Authorization") }
        return request
    }

    private func post(_ path: String, _ body: [String: Any]) async throws -> [String: Any] {
        var request = request(path)
        request.httpMethod = "POST"
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        request.timeoutInterval = 600
        for attempt in 0..<30 {
            let (data, response) = try await URLSession.shared.data(for: request)
            let status = (response as? HTTPURLResponse)?.statusCode ?? 0
            let json = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:]
            if status == 429 || status == 503 {
                try await Task.sleep(for: .milliseconds(200 * (attempt + 1)))
                continue
            }
            guard (200..<300).contains(status) else {
                let message = ((json["error"] as? [String: Any])?["message"] as? String) ?? String(decoding: data, as: UTF8.self)
                throw CLIError("\(path): HTTP \(status): \(message)")
            }
            return json
        }
        throw CLIError("\(path): the server stayed overloaded")
    }
}
