// TokenizerLoading: reads a GGUF file's `tokenizer.ggml.*` metadata into a TokenizerVocabulary and builds
// the BPETokenizer from it; every refusal names the file and the metadata key at fault.

import Tokenizer

// MARK: - Vocabulary from GGUF

extension TokenizerVocabulary {
    /// The tokenizer metadata of `gguf`. Requires `tokenizer.ggml.model` = `gpt2` (byte-level BPE),
    /// `tokens`, `merges` and `pre`; `token_type` defaults to all normal, `add_bos_token` to false.
    public init(gguf: GGUFFile) throws(ModelFileError) {
        let model = try gguf.requiredString(Key.model)
        guard model == "gpt2" else {
            throw .unsupported(path: gguf.path, what: "metadata '\(Key.model)'",
                               problem: "tokenizer model '\(model)'; Proxima reads byte-level BPE ('gpt2') only")
        }
        let tokens = try gguf.requiredStringArray(Key.tokens)
        let merges = try gguf.requiredStringArray(Key.merges)
        let preTokenizer = try gguf.requiredString(Key.preTokenizer)
        self.init(
            tokens: tokens, tokenTypes: try Self.tokenTypes(in: gguf, tokenCount: tokens.count), merges: merges,
            preTokenizer: preTokenizer,
            eosID: try Self.optionalInt(Key.eos, in: gguf), bosID: try Self.optionalInt(Key.bos, in: gguf),
            unknownID: try Self.optionalInt(Key.unknown, in: gguf), paddingID: try Self.optionalInt(Key.padding, in: gguf),
            addBOS: try Self.optionalBool(Key.addBOS, in: gguf) ?? false)
    }

    // MARK: Keys

    enum Key {
        static let model = "tokenizer.ggml.model"
        static let tokens = "tokenizer.ggml.tokens"
        static let tokenTypes = "tokenizer.ggml.token_type"
        static let merges = "tokenizer.ggml.merges"
        static let preTokenizer = "tokenizer.ggml.pre"
        static let eos = "tokenizer.ggml.eos_token_id"
        static let bos = "tokenizer.ggml.bos_token_id"
        static let unknown = "tokenizer.ggml.unknown_token_id"
        static let padding = "tokenizer.ggml.padding_token_id"
        static let addBOS = "tokenizer.ggml.add_bos_token"
    }

    // MARK: Typed reads

    private static func tokenTypes(in gguf: GGUFFile, tokenCount: Int) throws(ModelFileError) -> [TokenType]? {
        guard let value = gguf[Key.tokenTypes] else { return nil }
        let what = "metadata '\(Key.tokenTypes)'"
        guard let items = value.array else {
            throw .malformed(path: gguf.path, what: what, problem: "expected an array of integers, found \(value.type)")
        }
        guard items.count == tokenCount else {
            throw .malformed(path: gguf.path, what: what, problem: "\(items.count) types for \(tokenCount) tokens")
        }
        var types: [TokenType] = []
        types.reserveCapacity(items.count)
        for (id, item) in items.enumerated() {
            guard let code = item.int, let type = Int32(exactly: code).flatMap(TokenType.init(rawValue:)) else {
                throw .malformed(path: gguf.path, what: what, problem: "token \(id) has type \(item); known types are 1…6")
            }
            types.append(type)
        }
        return types
    }

    private static func optionalInt(_ key: String, in gguf: GGUFFile) throws(ModelFileError) -> Int? {
        guard gguf[key] != nil else { return nil }
        return try gguf.requiredInt(key)
    }

    private static func optionalBool(_ key: String, in gguf: GGUFFile) throws(ModelFileError) -> Bool? {
        guard let value = gguf[key] else { return nil }
        guard let flag = value.bool else {
            throw .malformed(path: gguf.path, what: "metadata '\(key)'", problem: "expected a bool, found \(value.type)")
        }
        return flag
    }
}

// MARK: - Tokenizer from GGUF

extension BPETokenizer {
    /// The tokenizer of a GGUF model file. A vocabulary the tokenizer refuses becomes a `ModelFileError`
    /// naming the file, the metadata key concerned and the tokenizer's reason.
    public init(gguf: GGUFFile) throws(ModelFileError) {
        let vocabulary = try TokenizerVocabulary(gguf: gguf)
        do {
            try self.init(vocabulary: vocabulary)
        } catch {
            typealias Key = TokenizerVocabulary.Key
            switch error {
            case .unknownPreTokenizer:
                throw .unsupported(path: gguf.path, what: "metadata '\(Key.preTokenizer)'", problem: error.description)
            case .malformedMerge, .mergeNamesUnknownToken:
                throw .malformed(path: gguf.path, what: "metadata '\(Key.merges)'", problem: error.description)
            case .specialIDOutOfRange:
                throw .malformed(path: gguf.path, what: "tokenizer special token ids", problem: error.description)
            case .emptyVocabulary, .tokenTypeCountMismatch:
                throw .malformed(path: gguf.path, what: "metadata '\(Key.tokens)'", problem: error.description)
            }
        }
    }
}
