// PreTokenizer: splits text into the pieces BPE merges within, as llama.cpp does for each supported
// `tokenizer.ggml.pre`; the split regexes are hand-written scanners over classified Unicode scalars.

// MARK: - Public face

/// The pre-tokenizers Proxima supports, named as in `tokenizer.ggml.pre`.
///
/// - `gpt2`: the GPT-2 pattern `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
/// - `smollm`: every `\p{N}` scalar is first cut out on its own, then each remaining stretch is split by
///   the GPT-2 pattern (a stretch ends where a digit was, so `(?!\S)` sees that end as the end of text).
/// - `llama-bpe`: the Llama-3 pattern `(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])|
///   [^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`; a piece
///   that is itself a vocabulary token is taken whole, without merging (as llama.cpp does for it).
/// - `qwen2` (Qwen2, Qwen2.5, Qwen3): the Llama-3 pattern with `\p{N}` for `\p{N}{1,3}` (one digit a piece), and
///   merges applied to every piece.
public enum PreTokenizer: String, CaseIterable, Sendable {
    case smollm
    case gpt2
    case llamaBPE = "llama-bpe"
    case qwen2

    /// The pre-tokenizer a model file names, or `TokenizerError.unknownPreTokenizer`.
    public init(name: String) throws(TokenizerError) {
        guard let known = PreTokenizer(rawValue: name) else { throw .unknownPreTokenizer(name) }
        self = known
    }

    /// The pieces of `text`, in order; joined they give `text` back.
    public func pieces(of text: String) -> [String] {
        let classified = ClassifiedText(text)
        var pieces: [String] = []
        forEachPiece(of: classified, in: 0..<classified.count) { range in
            pieces.append(String(decoding: classified.utf8[classified.byteRange(of: range)], as: UTF8.self))
        }
        return pieces
    }

    /// Whether a piece found in the vocabulary is emitted as that token without applying merges.
    var takesWholeTokens: Bool { self == .llamaBPE }

    /// Calls `body` with the scalar range of each piece of `range` in `text`, in order. The range is
    /// split as if it were the whole text (lookaheads stop at its end), as llama.cpp does for each
    /// stretch between special tokens.
    func forEachPiece(of text: ClassifiedText, in range: Range<Int>, _ body: (Range<Int>) -> Void) {
        let scanner = PieceScanner(text: text)
        switch self {
        case .gpt2:
            scanner.split(range, by: .gpt2, body)
        case .llamaBPE:
            scanner.split(range, by: .llama3, body)
        case .qwen2:
            scanner.split(range, by: .qwen2, body)
        case .smollm:
            var stretchStart = range.lowerBound
            for index in range where text.classes[index] == .number {
                scanner.split(stretchStart..<index, by: .gpt2, body)
                body(index..<index + 1)
                stretchStart = index + 1
            }
            scanner.split(stretchStart..<range.upperBound, by: .gpt2, body)
        }
    }
}

// MARK: - Scanners

/// Matches one alternative of a split pattern at a position, bounded by the end of the current stretch.
/// Every match function returns an end past its start: where the regex would leave a scalar unmatched,
/// llama.cpp keeps it as a piece of its own, which the trailing `\s+` alternative also yields.
private struct PieceScanner {
    let scalars: [UInt32]
    let classes: [ScalarClass]

    init(text: ClassifiedText) {
        scalars = text.scalars
        classes = text.classes
    }

    enum Pattern { case gpt2, llama3, qwen2 }

    func split(_ stretch: Range<Int>, by pattern: Pattern, _ body: (Range<Int>) -> Void) {
        var start = stretch.lowerBound
        while start < stretch.upperBound {
            let end: Int
            switch pattern {
            case .gpt2: end = gpt2MatchEnd(start, stretch.upperBound)
            case .llama3: end = llama3MatchEnd(start, stretch.upperBound, digitsPerPiece: 3)
            case .qwen2: end = llama3MatchEnd(start, stretch.upperBound, digitsPerPiece: 1)
            }
            body(start..<end)
            start = end
        }
    }

    // MARK: GPT-2

    /// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+` at `start`.
    func gpt2MatchEnd(_ start: Int, _ end: Int) -> Int {
        if let contraction = contractionEnd(start, end, ignoringCase: false) { return contraction }
        var runStart = start
        if scalars[start] == space, start + 1 < end, classes[start + 1] != .whitespace { runStart = start + 1 }
        let runClass = classes[runStart]
        if runClass != .whitespace { return runEnd(from: runStart, end, of: runClass) }
        return whitespaceEnd(start, end)
    }

    // MARK: Llama 3

    /// The Llama-3 pattern at `start` (see `PreTokenizer`), or Qwen2's with `digitsPerPiece` 1.
    func llama3MatchEnd(_ start: Int, _ end: Int, digitsPerPiece: Int) -> Int {
        if let contraction = contractionEnd(start, end, ignoringCase: true) { return contraction }
        let first = classes[start]
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if first == .letter { return runEnd(from: start, end, of: .letter) }
        if first != .number, !isLineBreak(scalars[start]), start + 1 < end, classes[start + 1] == .letter {
            return runEnd(from: start + 1, end, of: .letter)
        }
        // \p{N}{1,3} (Qwen2: \p{N})
        if first == .number { return min(runEnd(from: start, end, of: .number), start + digitsPerPiece) }
        // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
        let otherStart = scalars[start] == space && start + 1 < end && classes[start + 1] == .other ? start + 1 : start
        if classes[otherStart] == .other {
            var index = runEnd(from: otherStart, end, of: .other)
            while index < end, isLineBreak(scalars[index]) { index += 1 }
            return index
        }
        // \s*[\r\n]+ : up to and including the last line break of the whitespace run
        let whitespaceRunEnd = runEnd(from: start, end, of: .whitespace)
        if let lastBreak = (start..<whitespaceRunEnd).last(where: { isLineBreak(scalars[$0]) }) { return lastBreak + 1 }
        return whitespaceEnd(start, end)
    }

    // MARK: Shared alternatives

    /// `'s|'t|'re|'ve|'m|'ll|'d` (ASCII case-insensitive for Llama 3).
    private func contractionEnd(_ start: Int, _ end: Int, ignoringCase: Bool) -> Int? {
        guard scalars[start] == apostrophe, start + 1 < end else { return nil }
        let second = folded(scalars[start + 1], ignoringCase)
        switch second {
        case UInt32(ascii: "s"), UInt32(ascii: "t"), UInt32(ascii: "m"), UInt32(ascii: "d"): return start + 2
        default: break
        }
        guard start + 2 < end else { return nil }
        switch (second, folded(scalars[start + 2], ignoringCase)) {
        case (UInt32(ascii: "r"), UInt32(ascii: "e")), (UInt32(ascii: "v"), UInt32(ascii: "e")),
             (UInt32(ascii: "l"), UInt32(ascii: "l")):
            return start + 3
        default:
            return nil
        }
    }

    private func folded(_ scalar: UInt32, _ ignoringCase: Bool) -> UInt32 {
        ignoringCase && (0x41...0x5A).contains(scalar) ? scalar + 0x20 : scalar
    }

    /// `\s+(?!\S)|\s+` at whitespace: the run, less its last scalar when a non-space follows and the run
    /// has more than one (that last scalar then starts the next piece).
    private func whitespaceEnd(_ start: Int, _ end: Int) -> Int {
        let runEnd = runEnd(from: start, end, of: .whitespace)
        if runEnd < end, runEnd - start >= 2 { return runEnd - 1 }
        return runEnd
    }

    private func runEnd(from start: Int, _ end: Int, of scalarClass: ScalarClass) -> Int {
        var index = start
        while index < end, classes[index] == scalarClass { index += 1 }
        return index
    }

    private func isLineBreak(_ scalar: UInt32) -> Bool { scalar == 0x0A || scalar == 0x0D }
    private var space: UInt32 { UInt32(ascii: " ") }
    private var apostrophe: UInt32 { UInt32(ascii: "'") }
}

private extension UInt32 {
    init(ascii scalar: Unicode.Scalar) { self = scalar.value }
}
