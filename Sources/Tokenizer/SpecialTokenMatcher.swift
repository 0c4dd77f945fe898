// SpecialTokenMatcher: finds control, unknown and user-defined tokens written out in text (such as
// `<|im_start|>`) so they become single tokens before pre-tokenisation; leftmost match, longest first.

// MARK: - Matcher

/// The tokens matched whole in text, indexed by their first scalar.
struct SpecialTokenMatcher: Sendable {
    private struct Candidate: Sendable {
        let scalars: [UInt32]
        let id: Int
        /// User-defined tokens are matched even when special tokens are not parsed (as llama.cpp does);
        /// control and unknown tokens only when they are.
        let matchedAlways: Bool
    }

    /// A stretch of text to pre-tokenise, or a token found whole.
    enum Fragment {
        case text(Range<Int>)
        case token(Int)
    }

    /// Candidates by first scalar, longest first (lower id first among equal lengths).
    private let candidatesByFirstScalar: [UInt32: [Candidate]]

    init(spellings: [String], types: [TokenType]) {
        var byFirst: [UInt32: [Candidate]] = [:]
        for (id, spelling) in spellings.enumerated() {
            let type = types[id]
            guard type == .control || type == .unknown || type == .userDefined else { continue }
            let scalars = spelling.unicodeScalars.map(\.value)
            guard let first = scalars.first else { continue }
            byFirst[first, default: []].append(Candidate(scalars: scalars, id: id, matchedAlways: type == .userDefined))
        }
        candidatesByFirstScalar = byFirst.mapValues { candidates in
            candidates.sorted { ($0.scalars.count, -$0.id) > ($1.scalars.count, -$1.id) }
        }
    }

    /// Calls `body` with the fragments of `text` in order: scanning left to right, at each position the
    /// longest matching token wins; the text between matches comes out as `.text` ranges (never empty).
    /// Control and unknown tokens that would overlap a range of `literal` (scalar offsets) are not matched
    /// there: that text is content, never markup.
    func forEachFragment(of text: ClassifiedText, parseSpecial: Bool, literal: [Range<Int>] = [], _ body: (Fragment) -> Void) {
        let scalars = text.scalars
        var textStart = 0
        var position = 0
        scan: while position < scalars.count {
            if let candidates = candidatesByFirstScalar[scalars[position]] {
                for candidate in candidates where (parseSpecial || candidate.matchedAlways)
                    && Self.matches(candidate.scalars, in: scalars, at: position)
                    && (candidate.matchedAlways || !literal.contains { $0.overlaps(position..<position + candidate.scalars.count) }) {
                    if textStart < position { body(.text(textStart..<position)) }
                    body(.token(candidate.id))
                    position += candidate.scalars.count
                    textStart = position
                    continue scan
                }
            }
            position += 1
        }
        if textStart < scalars.count { body(.text(textStart..<scalars.count)) }
    }

    private static func matches(_ needle: [UInt32], in haystack: [UInt32], at position: Int) -> Bool {
        guard haystack.count - position >= needle.count else { return false }
        for offset in 1..<needle.count where haystack[position + offset] != needle[offset] { return false }
        return true
    }
}
