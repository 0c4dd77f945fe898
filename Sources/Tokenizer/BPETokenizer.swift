// BPETokenizer: a byte-level BPE tokenizer built from a TokenizerVocabulary (the tables it derives and the
// checks that refuse a bad vocabulary), plus its accessors; encoding and decoding live in their own files.

// MARK: - Tokenizer

/// Byte-level BPE (GPT-2 style) as llama.cpp runs it for a GGUF vocabulary. Immutable and `Sendable`:
/// one instance serves every request. Token ids are `Int`s in `0..<vocabularySize`.
public struct BPETokenizer: Sendable {
    // MARK: Stored tables

    let spellings: [String]
    let types: [TokenType]
    let idOfSpelling: [String: Int]
    /// The bytes every token stands for, concatenated; token `id` owns `tokenBytes[tokenByteStarts[id]..<tokenByteStarts[id + 1]]`.
    let tokenBytes: [UInt8]
    let tokenByteStarts: [Int]
    /// The token spelling each single byte, indexed by byte value; -1 where the vocabulary has none.
    let byteTokenIDs: [Int32]
    let merges: BPEMergeTable
    let specialTokens: SpecialTokenMatcher

    // MARK: Public facts

    /// The pre-tokenizer named by the vocabulary.
    public let preTokenizer: PreTokenizer
    /// End of sequence (`tokenizer.ggml.eos_token_id`).
    public let eosID: Int?
    /// Beginning of sequence (`tokenizer.ggml.bos_token_id`).
    public let bosID: Int?
    public let unknownID: Int?
    public let paddingID: Int?
    /// Whether a sequence should start with `bosID`. `encode` never adds it; a caller starting a sequence
    /// prepends it when this is true.
    public let addsBOS: Bool
    /// Ids that end generation, ascending: the EOS id and, when present as control tokens,
    /// `<|endoftext|>`, `<|im_end|>`, `<|eot_id|>`, `<|end_of_text|>`, `<end_of_turn>` and `<|end|>`.
    public let endOfGenerationIDs: [Int]

    // MARK: Building

    /// Builds the tables from `vocabulary`, refusing it with a `TokenizerError` that names the problem.
    /// When two ids share a spelling, the lower id is the one text encodes to.
    public init(vocabulary: TokenizerVocabulary) throws(TokenizerError) {
        let spellings = vocabulary.tokens
        guard !spellings.isEmpty else { throw .emptyVocabulary }
        guard vocabulary.tokenTypes.count == spellings.count else {
            throw .tokenTypeCountMismatch(tokens: spellings.count, tokenTypes: vocabulary.tokenTypes.count)
        }
        let roles = [("eos", vocabulary.eosID), ("bos", vocabulary.bosID), ("unknown", vocabulary.unknownID),
                     ("padding", vocabulary.paddingID)]
        for case let (role, id?) in roles where !spellings.indices.contains(id) {
            throw .specialIDOutOfRange(role: role, id: id, vocabularySize: spellings.count)
        }
        preTokenizer = try PreTokenizer(name: vocabulary.preTokenizer)

        var idOfSpelling: [String: Int] = [:]
        idOfSpelling.reserveCapacity(spellings.count)
        for (id, spelling) in spellings.enumerated() where idOfSpelling[spelling] == nil {
            idOfSpelling[spelling] = id
        }

        let byteTokenIDs = (UInt8.min...UInt8.max).map { byte in
            Int32(idOfSpelling[ByteLevelAlphabet.spelling(of: byte)] ?? -1)
        }

        var merges = BPEMergeTable()
        for (rank, rule) in vocabulary.merges.enumerated() {
            guard let space = rule.utf8.dropFirst().firstIndex(of: UInt8(ascii: " ")) else {
                throw .malformedMerge(rank: rank, merge: rule)
            }
            let left = String(rule[..<space])
            let right = String(rule[rule.utf8.index(after: space)...])
            guard let leftID = idOfSpelling[left] else { throw .mergeNamesUnknownToken(rank: rank, merge: rule, token: left) }
            guard let rightID = idOfSpelling[right] else { throw .mergeNamesUnknownToken(rank: rank, merge: rule, token: right) }
            guard let mergedID = idOfSpelling[left + right] else {
                throw .mergeNamesUnknownToken(rank: rank, merge: rule, token: left + right)
            }
            merges.add(left: leftID, right: rightID, merged: mergedID, rank: rank)
        }

        var tokenBytes: [UInt8] = []
        var tokenByteStarts: [Int] = [0]
        tokenByteStarts.reserveCapacity(spellings.count + 1)
        for (spelling, type) in zip(spellings, vocabulary.tokenTypes) {
            tokenBytes.append(contentsOf: Self.bytes(ofSpelling: spelling, type: type))
            tokenByteStarts.append(tokenBytes.count)
        }

        let endMarkers = ["<|endoftext|>", "<|im_end|>", "<|eot_id|>", "<|end_of_text|>", "<end_of_turn>", "<|end|>"]
        let markerIDs = endMarkers.compactMap { idOfSpelling[$0] }.filter { vocabulary.tokenTypes[$0] == .control }
        endOfGenerationIDs = Set(markerIDs + [vocabulary.eosID].compactMap { $0 }).sorted()

        self.spellings = spellings
        self.types = vocabulary.tokenTypes
        self.idOfSpelling = idOfSpelling
        self.tokenBytes = tokenBytes
        self.tokenByteStarts = tokenByteStarts
        self.byteTokenIDs = byteTokenIDs
        self.merges = merges
        self.specialTokens = SpecialTokenMatcher(spellings: spellings, types: vocabulary.tokenTypes)
        self.eosID = vocabulary.eosID
        self.bosID = vocabulary.bosID
        self.unknownID = vocabulary.unknownID
        self.paddingID = vocabulary.paddingID
        self.addsBOS = vocabulary.addBOS
    }

    /// What a token stands for: byte-level spellings are mapped back to bytes (a byte token may also be
    /// written `<0xHH>`); control, unknown, user-defined and unused tokens stand for their own UTF-8.
    private static func bytes(ofSpelling spelling: String, type: TokenType) -> [UInt8] {
        switch type {
        case .normal:
            return ByteLevelAlphabet.bytes(ofSpelling: spelling) ?? Array(spelling.utf8)
        case .byte:
            if spelling.hasPrefix("<0x"), spelling.hasSuffix(">"), spelling.utf8.count == 6,
               let value = UInt8(spelling.dropFirst(3).dropLast(), radix: 16) {
                return [value]
            }
            return ByteLevelAlphabet.bytes(ofSpelling: spelling) ?? Array(spelling.utf8)
        case .control, .unknown, .userDefined, .unused:
            return Array(spelling.utf8)
        }
    }

    // MARK: Accessors

    /// The number of tokens; ids run from 0 to one less.
    public var vocabularySize: Int { spellings.count }

    /// The id of the token spelled exactly `spelling` (byte-level spelling for normal tokens, e.g. "Ġthe").
    public func id(of spelling: String) -> Int? { idOfSpelling[spelling] }

    /// The spelling of token `id` as the vocabulary stores it, or nil outside the vocabulary.
    public func token(of id: Int) -> String? { spellings.indices.contains(id) ? spellings[id] : nil }

    /// The type of token `id`, or nil outside the vocabulary.
    public func tokenType(of id: Int) -> TokenType? { types.indices.contains(id) ? types[id] : nil }
}
