// TokenizerVocabulary: the plain facts a byte-level BPE tokenizer is built from (tokens, their types,
// merges, pre-tokenizer name, special ids), as a model file states them; no IO, so tests can make tiny ones.

// MARK: - Token types

/// The kind of a vocabulary entry, with the codes GGUF's `tokenizer.ggml.token_type` uses.
public enum TokenType: Int32, Sendable, Equatable {
    /// Ordinary text, spelled in the byte-level alphabet.
    case normal = 1
    /// The stand-in for unknown input.
    case unknown = 2
    /// A marker such as `<|im_start|>`: matched whole in text only when special tokens are parsed, and
    /// left out of decoded text unless asked for.
    case control = 3
    /// An added token that is always matched whole in text and decodes to its own spelling.
    case userDefined = 4
    /// A placeholder never produced by encoding.
    case unused = 5
    /// A single byte (`<0xHH>`, or one byte-level character).
    case byte = 6
}

// MARK: - Vocabulary

/// Everything `BPETokenizer` needs, exactly as a model file gives it.
public struct TokenizerVocabulary: Sendable, Equatable {
    /// Token spellings; the index is the token id. Normal tokens use the GPT-2 byte-level alphabet.
    public var tokens: [String]
    /// One type per token.
    public var tokenTypes: [TokenType]
    /// Merges in rank order (best first), each two token spellings joined by one space, e.g. `"Ġ t"`.
    public var merges: [String]
    /// The pre-tokenizer name (`tokenizer.ggml.pre`), e.g. `smollm`.
    public var preTokenizer: String
    public var eosID: Int?
    public var bosID: Int?
    public var unknownID: Int?
    public var paddingID: Int?
    /// Whether sequences should start with the BOS token (`tokenizer.ggml.add_bos_token`).
    public var addBOS: Bool

    /// A vocabulary; `tokenTypes` defaults to every token being normal.
    public init(
        tokens: [String], tokenTypes: [TokenType]? = nil, merges: [String], preTokenizer: String,
        eosID: Int? = nil, bosID: Int? = nil, unknownID: Int? = nil, paddingID: Int? = nil, addBOS: Bool = false
    ) {
        self.tokens = tokens
        self.tokenTypes = tokenTypes ?? Array(repeating: .normal, count: tokens.count)
        self.merges = merges
        self.preTokenizer = preTokenizer
        self.eosID = eosID
        self.bosID = bosID
        self.unknownID = unknownID
        self.paddingID = paddingID
        self.addBOS = addBOS
    }
}
