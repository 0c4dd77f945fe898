// RubricLexicon: the data of rubric v1, copied from rubric_v1.py (stopwords, role words) and from Python 3's
// `re` module (what `\s` matches, which letters IGNORECASE treats as equal), so nothing is read at run time.

// MARK: - Lexicon

enum RubricLexicon {
    /// `STOPWORDS` from rubric_v1.py, in the spec's order (123 words).
    static let stopwords: Set<String> = [
        "a", "an", "the", "and", "or", "but", "if", "then", "than", "so", "of", "to", "in", "on", "at", "by", "for",
        "with", "about", "from", "into", "over", "under",
        "is", "are", "was", "were", "be", "been", "being", "do", "does", "did", "have", "has", "had", "can", "could",
        "would", "should", "will", "shall", "may", "might", "must",
        "what", "which", "who", "whom", "whose", "why", "how", "when", "where", "that", "this", "these", "those", "it",
        "its", "it's", "you", "your", "yours", "i", "me", "my", "we", "our",
        "they", "them", "their", "he", "she", "his", "her", "not", "no", "yes", "as", "also", "just", "very", "more",
        "most", "some", "any", "each", "other", "such", "own", "same",
        "there", "here", "one", "two", "three", "give", "describe", "explain", "list", "tell", "brief", "briefly",
        "answer", "simple", "terms", "few", "sentences",
        "main", "idea", "start", "learning", "matter", "common", "misconceptions", "practical", "tips", "facts",
        "advantage", "drawback", "year", "old",
    ]

    /// The alternation `(user|assistant|human)` of the role-leak pattern, in the spec's order.
    static let roles = ["user", "assistant", "human"]

    // MARK: - Python `re` semantics

    /// Python's `\s` for str patterns (`str.isspace()`): ASCII whitespace, the information separators
    /// U+001C–U+001F, NEL, no-break and typographic spaces, the line and paragraph separators.
    static func isPythonWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            true
        default:
            false
        }
    }

    /// Whether `scalar` matches the ASCII letter or symbol `expected` under Python's `re.IGNORECASE` (Unicode).
    ///
    /// Besides the two ASCII cases, Python treats four non-ASCII letters as case variants of ASCII ones:
    /// U+0130 and U+0131 match "i", U+017F (long s) matches "s" and U+212A (Kelvin sign) matches "k".
    static func equalIgnoringCase(_ scalar: Unicode.Scalar, _ expected: Unicode.Scalar) -> Bool {
        if scalar == expected { return true }
        if scalar.isASCII { return asciiLowercase(scalar) == asciiLowercase(expected) }
        switch (scalar.value, expected) {
        case (0x130, "i"), (0x131, "i"), (0x17F, "s"), (0x212A, "k"): return true
        default: return false
        }
    }

    private static func asciiLowercase(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32)! : scalar
    }
}
