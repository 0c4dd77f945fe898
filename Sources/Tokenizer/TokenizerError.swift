// TokenizerError: every way a vocabulary can be refused when a tokenizer is built from it, each with a
// message that names the offending token, merge or setting and says what would be accepted.

/// Why a `TokenizerVocabulary` could not become a `BPETokenizer`.
public enum TokenizerError: Error, Equatable, CustomStringConvertible {
    case emptyVocabulary
    /// `tokenTypes` must have one entry per token.
    case tokenTypeCountMismatch(tokens: Int, tokenTypes: Int)
    /// A merge that is not two spellings separated by a space.
    case malformedMerge(rank: Int, merge: String)
    /// A merge naming a token (a side, or the joined result) that the vocabulary lacks.
    case mergeNamesUnknownToken(rank: Int, merge: String, token: String)
    /// A special id (eos, bos, unknown, padding) outside the vocabulary.
    case specialIDOutOfRange(role: String, id: Int, vocabularySize: Int)
    case unknownPreTokenizer(String)

    public var description: String {
        switch self {
        case .emptyVocabulary:
            return "the vocabulary has no tokens"
        case let .tokenTypeCountMismatch(tokens, tokenTypes):
            return "the vocabulary has \(tokens) tokens but \(tokenTypes) token types; they must be equal"
        case let .malformedMerge(rank, merge):
            return "merge \(rank) \(merge.debugDescription) is not two tokens separated by a space"
        case let .mergeNamesUnknownToken(rank, merge, token):
            return "merge \(rank) \(merge.debugDescription) names \(token.debugDescription), which is not in the vocabulary"
        case let .specialIDOutOfRange(role, id, vocabularySize):
            return "the \(role) id \(id) is outside the vocabulary (0..<\(vocabularySize))"
        case let .unknownPreTokenizer(name):
            let supported = PreTokenizer.allCases.map(\.rawValue).joined(separator: ", ")
            return "unknown pre-tokenizer \(name.debugDescription); supported: \(supported)"
        }
    }
}
