// BPETokenizer encoding: text → token ids in llama.cpp's order of steps: special tokens found whole,
// each stretch between them pre-tokenised, each piece turned into byte tokens and merged by rank.

// MARK: - Encoding

extension BPETokenizer {
    /// The token ids of `text`.
    ///
    /// With `parseSpecial`, control tokens written in the text (such as `<|im_start|>`) become single
    /// tokens, the leftmost match first and the longest at a position; without it they are encoded as
    /// plain text, which is how untrusted content must be encoded. User-defined tokens are matched whole
    /// either way, as in llama.cpp. No BOS is added (see `addsBOS`).
    ///
    /// A byte for which the vocabulary has no token is dropped, and no merge reaches across it (as in
    /// llama.cpp). The default model lacks such tokens for the control characters U+0004, U+0006,
    /// U+0013, U+0014, U+0016 and U+001D (and for bytes that never occur in UTF-8).
    ///
    /// `literal` marks stretches (in unicode scalar offsets of `text`) where control tokens written out are
    /// plain text even with `parseSpecial` — message content inside a rendered chat template. Everything
    /// else, pre-tokenisation included, is as without it, so text without control tokens in those stretches
    /// encodes to the same ids.
    public func encode(_ text: String, parseSpecial: Bool = true, literal: [Range<Int>] = []) -> [Int] {
        let classified = ClassifiedText(text)
        var ids: [Int] = []
        ids.reserveCapacity(classified.utf8.count / 3 + 1)
        var scratch = MergeScratch()
        specialTokens.forEachFragment(of: classified, parseSpecial: parseSpecial, literal: literal) { fragment in
            switch fragment {
            case let .token(id):
                ids.append(id)
            case let .text(range):
                preTokenizer.forEachPiece(of: classified, in: range) { piece in
                    appendTokens(ofPiece: classified.utf8[classified.byteRange(of: piece)], to: &ids, scratch: &scratch)
                }
            }
        }
        return ids
    }

    // MARK: One piece

    private func appendTokens(ofPiece bytes: ArraySlice<UInt8>, to ids: inout [Int], scratch: inout MergeScratch) {
        if preTokenizer.takesWholeTokens, let whole = wholeTokenID(spelling: bytes) {
            ids.append(whole)
            return
        }
        var runStart = bytes.startIndex
        for index in bytes.indices where byteTokenIDs[Int(bytes[index])] < 0 {
            appendMergedTokens(ofBytes: bytes[runStart..<index], to: &ids, scratch: &scratch)
            runStart = index + 1
        }
        appendMergedTokens(ofBytes: bytes[runStart...], to: &ids, scratch: &scratch)
    }

    /// Bytes that all have tokens → their byte tokens, merged.
    private func appendMergedTokens(ofBytes bytes: ArraySlice<UInt8>, to ids: inout [Int], scratch: inout MergeScratch) {
        guard !bytes.isEmpty else { return }
        scratch.symbols.removeAll(keepingCapacity: true)
        for byte in bytes { scratch.symbols.append(byteTokenIDs[Int(byte)]) }
        merges.merge(&scratch)
        for symbol in scratch.symbols { ids.append(Int(symbol)) }
    }

    /// The id of the token whose byte-level spelling is exactly these bytes, if any.
    private func wholeTokenID(spelling bytes: ArraySlice<UInt8>) -> Int? {
        var spelling = String.UnicodeScalarView()
        for byte in bytes { spelling.append(ByteLevelAlphabet.characterOfByte[Int(byte)]) }
        return idOfSpelling[String(spelling)]
    }
}
