// TextAssembler: turns one sample's tokens into text deltas: complete UTF-8 only, and text that could be
// the start of a stop string is held back until it is known not to be one.

import Tokenizer

/// Streams the text of one sample, cutting it at the first stop string.
struct TextAssembler {
    private var detokenizer: StreamingDetokenizer
    private let stops: [String]
    private var pending = ""
    /// All text released so far.
    private(set) var text = ""
    private var stopped = false

    init(tokenizer: BPETokenizer, stops: [String]) {
        detokenizer = StreamingDetokenizer(tokenizer: tokenizer)
        self.stops = stops.filter { !$0.isEmpty }
    }

    /// Adds a token; returns the text now safe to show and whether a stop string was reached (the text
    /// before it is released; the stop string and anything after it are dropped).
    mutating func push(_ token: Int) -> (delta: String, stopped: Bool) {
        pending += detokenizer.push(token)
        if let cut = stops.compactMap({ pending.range(of: $0)?.lowerBound }).min() {
            let delta = release(String(pending[..<cut]))
            pending = ""
            stopped = true
            return (delta, true)
        }
        let hold = heldBackLength()
        let safe = pending.index(pending.endIndex, offsetBy: -hold)
        let delta = release(String(pending[..<safe]))
        pending = String(pending[safe...])
        return (delta, false)
    }

    /// The rest of the text once the sample is over (incomplete bytes become U+FFFD); nothing after a stop.
    mutating func finish() -> String {
        if stopped { return "" }
        let rest = pending + detokenizer.finish()
        pending = ""
        return release(rest)
    }

    private mutating func release(_ s: String) -> String {
        text += s
        return s
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
