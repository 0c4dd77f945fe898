// ChatMessage: one turn of a conversation — the one message type from the HTTP body to the chat template, the
// store and the pairs export.

/// A message as a chat template sees it (`{"role": …, "content": …}`).
///
/// Encoded as `{"role", "content"}` with string content. Decoding also takes the other content forms of
/// OpenAI's chat API: null (empty text) and a list of text parts (`[{"type": "text", "text": …}]`, joined).
public struct ChatMessage: Sendable, Hashable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    enum CodingKeys: String, CodingKey { case role, content }

    private struct Part: Decodable {
        var type: String
        var text: String?
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        role = try c.decode(String.self, forKey: .role)
        if try !c.contains(.content) || c.decodeNil(forKey: .content) {
            content = ""
        } else if let text = try? c.decode(String.self, forKey: .content) {
            content = text
        } else if let parts = try? c.decode([Part].self, forKey: .content) {
            guard parts.allSatisfy({ $0.type == "text" && $0.text != nil }) else {
                throw DecodingError.dataCorruptedError(forKey: .content, in: c, debugDescription:
                    "only text content parts ({\"type\": \"text\", \"text\": …}) are supported")
            }
            content = parts.map { $0.text! }.joined()
        } else {
            throw DecodingError.dataCorruptedError(forKey: .content, in: c, debugDescription:
                "message content must be a string or a list of text parts")
        }
    }
}
