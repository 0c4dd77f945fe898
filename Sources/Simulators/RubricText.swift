// RubricText: the text analysis behind rubric v1, reproducing the Python spec's string and regex semantics.
// Words are `[a-z0-9']+` runs of `str.lower()`; role leaks follow Python `re` with IGNORECASE | MULTILINE.

// MARK: - Words

/// Text analysis for the rubric, matching `rubric_v1.py` code point for code point.
enum RubricText {
    /// `WORD.findall(text.lower())` with `WORD = [a-z0-9']+`.
    ///
    /// Python's `str.lower()` applies each code point's full Unicode lowercase mapping, so non-ASCII letters can
    /// produce ASCII ones: U+0130 (İ) becomes "i" + U+0307 and U+212A (Kelvin sign) becomes "k". Every
    /// non-ASCII scalar therefore goes through its full lowercase mapping before the ASCII word test.
    static func words(_ text: String) -> [String] {
        var words: [String] = []
        var current: [UInt8] = []
        func take(_ scalar: Unicode.Scalar) {
            if let byte = wordByte(scalar) {
                current.append(byte)
            } else if !current.isEmpty {
                words.append(String(decoding: current, as: UTF8.self))
                current.removeAll(keepingCapacity: true)
            }
        }
        for scalar in text.unicodeScalars {
            if scalar.isASCII {
                take(scalar)
            } else {
                for lowered in scalar.properties.lowercaseMapping.unicodeScalars { take(lowered) }
            }
        }
        if !current.isEmpty { words.append(String(decoding: current, as: UTF8.self)) }
        return words
    }

    /// The lower-cased ASCII byte when `scalar` (already lower-cased if non-ASCII) belongs to `[a-z0-9']`.
    private static func wordByte(_ scalar: Unicode.Scalar) -> UInt8? {
        guard scalar.isASCII else { return nil }
        let byte = UInt8(scalar.value)
        switch byte {
        case UInt8(ascii: "A")...UInt8(ascii: "Z"): return byte + 32
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "'"): return byte
        default: return nil
        }
    }

    /// `content_words(prompt)`: the prompt's distinct words of at least 4 characters that are not stopwords.
    static func contentWords(_ prompt: String) -> Set<String> {
        Set(words(prompt).filter { $0.utf8.count >= 4 && !RubricLexicon.stopwords.contains($0) })
    }

    // MARK: - Role leakage

    /// `re.search(r"<\|im_(start|end)\|>|^\s*(user|assistant|human)\s*:", response, re.I | re.M)`.
    ///
    /// `^` matches at the start and after each "\n" only; `\s` is Python's Unicode whitespace and may span
    /// lines; letters match case-insensitively with Python's extra equivalents (see `RubricLexicon`).
    static func leaksRoleOrMarker(_ response: String) -> Bool {
        let scalars = Array(response.unicodeScalars)
        for index in scalars.indices {
            if scalars[index] == "<", matchesMarker(scalars, at: index) { return true }
            let isLineStart = index == 0 || scalars[index - 1] == "\n"
            if isLineStart, matchesRoleLine(scalars, at: index) { return true }
        }
        return false
    }

    /// `<\|im_(start|end)\|>` at `start`, ignoring case.
    private static func matchesMarker(_ scalars: [Unicode.Scalar], at start: Int) -> Bool {
        guard var position = matchLiteral("<|im_", in: scalars, at: start) else { return false }
        guard let afterName = matchLiteral("start", in: scalars, at: position)
            ?? matchLiteral("end", in: scalars, at: position) else { return false }
        position = afterName
        return matchLiteral("|>", in: scalars, at: position) != nil
    }

    /// `\s*(user|assistant|human)\s*:` at `start`. Greedy `\s*` never needs to backtrack here: no role word
    /// starts with, and `:` is not, whitespace.
    private static func matchesRoleLine(_ scalars: [Unicode.Scalar], at start: Int) -> Bool {
        var position = skipWhitespace(scalars, from: start)
        guard let afterRole = RubricLexicon.roles.lazy.compactMap({ matchLiteral($0, in: scalars, at: position) }).first else {
            return false
        }
        position = skipWhitespace(scalars, from: afterRole)
        return position < scalars.count && scalars[position] == ":"
    }

    private static func skipWhitespace(_ scalars: [Unicode.Scalar], from start: Int) -> Int {
        var position = start
        while position < scalars.count, RubricLexicon.isPythonWhitespace(scalars[position]) { position += 1 }
        return position
    }

    /// Matches the ASCII `literal` at `start` under Python's IGNORECASE; returns the position after it.
    private static func matchLiteral(_ literal: String, in scalars: [Unicode.Scalar], at start: Int) -> Int? {
        var position = start
        for expected in literal.unicodeScalars {
            guard position < scalars.count, RubricLexicon.equalIgnoringCase(scalars[position], expected) else { return nil }
            position += 1
        }
        return position
    }
}
