// TextAssembler: turns one sample's tokens into text deltas, whole tokens at a time: complete UTF-8 only, and
// a token whose text could be the start of a stop string is held back until it is known not to be one. When a
// stop string appears, the sample ends before the token in which it begins: the text, the tokens (with their
// log-probs), the usage and what is logged for training all end at that same place.

import Tokenizer

/// Streams the text of one sample, cutting it at the first stop string, on a token boundary.
public struct TextAssembler: Sendable {
    private var detokenizer: StreamingDetokenizer
    private let stops: [String]
    /// Text of tokens not released yet, and where each of those tokens' text ends in it (in characters).
    private var pending = ""
    private var pendingEnds: [Int] = []
    /// All text released so far.
    public private(set) var text = ""
    /// Tokens whose text was released (or, after a stop string, the tokens the sample keeps).
    public private(set) var releasedTokens = 0
    /// Whether a stop string ended the sample.
    public private(set) var stopped = false

    public init(tokenizer: BPETokenizer, stops: [String]) {
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        self.stops = stops.filter { !$0.isEmpty }
    }

    /// Adds a token; returns the text now safe to show and whether a stop string was reached. At a stop
    /// string, the tokens before the one in which it begins are released; that token and later ones are not.
    public mutating func push(_ token: Int) -> (delta: String, stopped: Bool) {
        guard !stopped else { return ("", true) }
        pending += detokenizer.push(token)
        pendingEnds.append(pending.count)
        if let cut = stops.compactMap({ pending.range(of: $0)?.lowerBound }).min() {
            let delta = release(upTo: pending.distance(from: pending.startIndex, to: cut))
            stopped = true
            pending = ""
            pendingEnds = []
            return (delta, true)
        }
        return (release(upTo: pending.count - heldBackLength()), false)
    }

    /// The rest of the text once the sample is over (incomplete bytes become U+FFFD); nothing after a stop.
    public mutating func finish() -> String {
        if stopped { return "" }
        pending += detokenizer.finish()
        let rest = pending
        text += rest
        releasedTokens += pendingEnds.count
        pending = ""
        pendingEnds = []
        return rest
    }

    /// Releases the pending tokens whose text ends at or before `limit` characters of `pending`.
    private mutating func release(upTo limit: Int) -> String {
        var count = 0
        while count < pendingEnds.count && pendingEnds[count] <= limit { count += 1 }
        // A last token without text of its own (the first bytes of a character a later token completes) waits
        // for that token: the tokens released always decode to the text released.
        func textless(_ i: Int) -> Bool { pendingEnds[i] == (i > 0 ? pendingEnds[i - 1] : 0) }
        while count > 0 && textless(count - 1) { count -= 1 }
        guard count > 0 else { return "" }
        let end = pendingEnds[count - 1]
        let delta = String(pending.prefix(end))
        pending = String(pending.dropFirst(end))
        pendingEnds = pendingEnds.dropFirst(count).map { $0 - end }
        text += delta
        releasedTokens += count
        return delta
    }

    /// Characters at the end of `pending` that begin some stop string.
    private func heldBackLength() -> Int {
        var longest = 0
        for stop in stops {
            var n = min(stop.count, pending.count)
            while n > longest {
                if pending.hasSuffix(String(stop.prefix(n))) { longest = n; break }
                n -= 1
            }
        }
        return longest
    }
}
