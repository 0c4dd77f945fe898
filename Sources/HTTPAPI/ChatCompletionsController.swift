// ChatCompletionsController: POST /v1/chat/completions: decodes the request, starts a chat session and
// answers with one JSON completion or a server-sent event stream; a client that goes away cancels it.

import Foundation
import Hummingbird
import NIOCore
import Service

struct ChatCompletionsController {
    let chat: ChatService
    /// The served model's name, reported in every response whatever the request's `model` said.
    let modelName: String
    let bodyLimit: Int
    /// Where a pinned version (`model: "<name>@<version>"`) is found; nil: no pinning (404 for any version).
    let versions: PolicyRegistry?

    func create(_ request: Request, context: ProximaRequestContext) async throws -> Response {
        let body = try await JSONBody.decode(ChatCompletionRequest.self, from: request, limit: bodyLimit)
        var chatRequest = body.chatRequest(apiKeyID: context.apiKey?.id)
        if let version = body.modelOptions.version {
            chatRequest.pinned = try await pinned(version, model: body.model ?? "")
        }
        let session: ChatSession
        do {
            session = try chat.start(chatRequest)
        } catch {
            throw APIError(error)
        }
        // The connection closing before the session ends stops generation (it is a no-op afterwards).
        let cancel = session.cancellation()
        context.connectionClosed.whenComplete { _ in cancel() }
        if body.stream == true {
            return stream(session, includeUsage: body.includeUsage)
        }
        var events = session.events()
        var completion: ChatCompletion?
        do {
            while let event = try await events.next() {
                if case let .completed(done) = event { completion = done }
            }
        } catch {
            throw APIError(error)
        }
        guard let completion else { throw APIError.server("The completion ended without a result.") }
        return try JSONResponse.make(ChatCompletionResponse(completion, model: modelName))
    }

    /// The policy of `version`, or 404 `model_not_found` when there is no such version or its files are gone.
    private func pinned(_ version: String, model: String) async throws -> ServingPolicy {
        do {
            guard let versions else { throw RegistryError.unknownVersion(version) }
            return try await versions.policy(id: version)
        } catch let error as RegistryError {
            var notFound = APIError.notFound("The model '\(model)' does not exist: \(error). GET /v1/models lists the versions that can be pinned.",
                                             param: "model")
            notFound.code = "model_not_found"
            throw notFound
        }
    }

    // MARK: Streaming

    /// `data: {chunk}` events: a role chunk per shown choice once admitted, text deltas, then (after the
    /// request was logged) a finish chunk per choice, the usage chunk when asked for, and `data: [DONE]`.
    /// A failure after the headers went out is sent as a `data: {"error": …}` event and the stream ends
    /// without [DONE].
    private func stream(_ session: ChatSession, includeUsage: Bool) -> Response {
        let chunks = ChunkFactory(id: session.id, created: Int(session.created.timeIntervalSince1970), model: modelName,
                                  pairID: session.pairID)
        let choices = session.request.n
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache"]
        return Response(status: .ok, headers: headers, body: ResponseBody { writer in
            var events = session.events()
            var delivered = false
            var version: String?
            defer { if !delivered { session.cancel() } }
            do {
                while let event = try await events.next() {
                    switch event {
                    case let .admitted(admittedVersion):
                        version = admittedVersion
                        let opening = (0..<choices).map { ChatCompletionChunk.Choice(index: $0, delta: .init(role: "assistant", content: "")) }
                        try await writer.write(chunks.event(opening, policyVersion: version))
                    case let .text(choice, delta):
                        try await writer.write(chunks.event([.init(index: choice, delta: .init(content: delta))], policyVersion: version))
                    case let .completed(completion):
                        for choice in completion.choices {
                            let last = ChatCompletionChunk.Choice(index: choice.index, delta: .init(),
                                                                  logprobs: choice.logprobs.map(ChoiceLogprobs.init),
                                                                  finishReason: choice.finishReasonText)
                            try await writer.write(chunks.event([last], policyVersion: completion.policyVersion))
                        }
                        if includeUsage {
                            try await writer.write(chunks.event([], policyVersion: completion.policyVersion, usage: Usage(completion)))
                        }
                        try await writer.write(ByteBuffer(string: "data: [DONE]\n\n"))
                        delivered = true
                    }
                }
            } catch let error as ChatError {
                if error != .cancelled { try await writer.write(serverSentEvent(APIError(error).json)) }
            }
            try await writer.finish(nil)
        })
    }
}

/// Builds the SSE events of one stream (the fields every chunk repeats).
private struct ChunkFactory {
    let id: String
    let created: Int
    let model: String
    let pairID: String?
    private let encoder = JSONEncoder()

    init(id: String, created: Int, model: String, pairID: String?) {
        self.id = id; self.created = created; self.model = model; self.pairID = pairID
        encoder.outputFormatting = [.withoutEscapingSlashes]
    }

    func event(_ choices: [ChatCompletionChunk.Choice], policyVersion: String? = nil, usage: Usage? = nil) throws -> ByteBuffer {
        let chunk = ChatCompletionChunk(id: id, created: created, model: model, choices: choices, usage: usage,
                                        proxima: ProximaInfo(pairID: pairID, policyVersion: policyVersion))
        return serverSentEvent(try encoder.encode(chunk))
    }
}

/// One SSE event: `data: <json>` and a blank line.
private func serverSentEvent(_ json: Data) -> ByteBuffer {
    var buffer = ByteBuffer()
    buffer.reserveCapacity(json.count + 8)
    buffer.writeString("data: ")
    buffer.writeBytes(json)
    buffer.writeString("\n\n")
    return buffer
}

/// JSON responses with the status and content type the API uses.
enum JSONResponse {
    static func make(_ value: some Encodable, status: HTTPResponse.Status = .ok) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        let data = try encoder.encode(value)
        return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
