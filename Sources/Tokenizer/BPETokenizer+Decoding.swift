// BPETokenizer decoding: token ids → the bytes they stand for → text, and StreamingDetokenizer, which
// turns a token stream into text without ever emitting half of a multi-byte UTF-8 character.

// MARK: - Decoding

extension BPETokenizer {
    /// The bytes token `id` stands for (its own spelling for control tokens); empty outside the vocabulary.
    public func bytes(of id: Int) -> [UInt8] {
        guard spellings.indices.contains(id) else { return [] }
        return Array(tokenBytes[tokenByteStarts[id]..<tokenByteStarts[id + 1]])
    }

    /// The text of `ids`. Control, unknown and unused tokens are left out unless `includeSpecial`; ids
    /// outside the vocabulary are skipped; bytes that are not valid UTF-8 become U+FFFD.
    public func decode(_ ids: [Int], includeSpecial: Bool = false) -> String {
        var bytes: [UInt8] = []
        for id in ids { appendBytes(of: id, includeSpecial: includeSpecial, to: &bytes) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Appends the bytes of `id` as `decode` would render them.
    func appendBytes(of id: Int, includeSpecial: Bool, to bytes: inout [UInt8]) {
        guard spellings.indices.contains(id) else { return }
        switch types[id] {
        case .control, .unknown, .unused: if !includeSpecial { return }
        case .normal, .userDefined, .byte: break
        }
        bytes.append(contentsOf: tokenBytes[tokenByteStarts[id]..<tokenByteStarts[id + 1]])
    }
}

// MARK: - Streaming

/// Turns token ids, pushed one at a time, into text. A token can end inside a multi-byte UTF-8 character
/// (emoji and CJK are often split across tokens); those bytes are held back until the character is
/// complete, so every returned string is whole characters. The concatenation of all `push` results and
/// `finish()` equals `decode` of all the ids.
public struct StreamingDetokenizer: Sendable {
    private let tokenizer: BPETokenizer
    private let includeSpecial: Bool
    /// Bytes of an incomplete character at the end of what has been pushed (at most 3).
    private var pending: [UInt8] = []

    /// A detokenizer rendering tokens like `tokenizer.decode(_:includeSpecial:)`.
    public init(tokenizer: BPETokenizer, includeSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.includeSpecial = includeSpecial
    }

    /// Adds one token; returns the text that is now complete (possibly empty).
    public mutating func push(_ id: Int) -> String {
        tokenizer.appendBytes(of: id, includeSpecial: includeSpecial, to: &pending)
        let heldBack = Self.incompleteSuffixLength(of: pending)
        let text = String(decoding: pending[..<(pending.count - heldBack)], as: UTF8.self)
        pending.removeFirst(pending.count - heldBack)
        return text
    }

    /// Ends the stream: returns whatever is still held back, an incomplete character becoming U+FFFD.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return String(decoding: pending, as: UTF8.self)
    }

    /// The length of the trailing bytes that begin a valid UTF-8 character but do not complete it yet.
    /// Bytes that can never become valid are not held: the decoder turns them into U+FFFD at once.
    static func incompleteSuffixLength(of bytes: [UInt8]) -> Int {
        var length = 1
        while length <= min(3, bytes.count) {
            let lead = bytes[bytes.count - length]
            if lead & 0xC0 != 0x80 {
                let continuation = bytes[(bytes.count - length + 1)...]
                let incomplete = sequenceLength(lead: lead) > length && isValidStart(lead: lead, continuation: continuation)
                return incomplete ? length : 0
            }
            length += 1  // a continuation byte: its lead is further back
        }
        return 0
    }

    /// The byte count of the sequence a lead byte starts (0 for bytes that cannot lead).
    private static func sequenceLength(lead: UInt8) -> Int {
        switch lead {
        case 0xC2...0xDF: return 2
        case 0xE0...0xEF: return 3
        case 0xF0...0xF4: return 4
        default: return 0
        }
    }

    /// Whether the bytes after `lead` are a valid beginning of its sequence (RFC 3629 second-byte ranges).
    private static func isValidStart(lead: UInt8, continuation: ArraySlice<UInt8>) -> Bool {
        for (offset, byte) in continuation.enumerated() {
            var range: ClosedRange<UInt8> = 0x80...0xBF
            if offset == 0 {
                switch lead {
                case 0xE0: range = 0xA0...0xBF
                case 0xED: range = 0x80...0x9F
                case 0xF0: range = 0x90...0xBF
                case 0xF4: range = 0x80...0x8F
                default: break
                }
            }
            guard range.contains(byte) else { return false }
        }
        return true
    }
}
