// PrefixCache: the keys and values of recently prefilled prompts, per policy version, so that a prompt which
// begins like one of them (the chat template's system turn, a conversation's earlier turns) prefills only
// the rest.

import Llama

/// Prompt caches, least recently used dropped first, holding at most `maxPositions` positions in all.
/// Entries are keyed by an owner (the policy version): keys and values depend on the weights. Not thread-safe:
/// one owner (the engine's loop).
public final class PrefixCache {
    public let maxPositions: Int
    /// Most recently used last.
    private var entries: [Entry] = []
    public private(set) var positions = 0

    private struct Entry {
        var owner: String
        var tokens: [Int]
        var cache: KVCache
    }

    /// `maxPositions` 0 turns the cache off.
    public init(maxPositions: Int) {
        precondition(maxPositions >= 0)
        self.maxPositions = maxPositions
    }

    public var count: Int { entries.count }

    /// Starts `sequence`'s prefill after the longest prefix of its prompt that an entry of `owner` holds,
    /// leaving at least the prompt's last token to run. Returns the prompt positions reused (0: none).
    @discardableResult
    public func reuse(for sequence: GenerationSequence, owner: String) -> Int {
        guard sequence.leader == nil, sequence.prefilled == 0 else { return 0 }
        let limit = sequence.prompt.count - 1
        var best = 0, bestIndex: Int?
        for (i, entry) in entries.enumerated() where entry.owner == owner {
            let n = zip(entry.tokens.prefix(limit), sequence.prompt).prefix { $0 == $1 }.count
            if n > best { best = n; bestIndex = i }
        }
        guard let i = bestIndex else { return 0 }
        let entry = entries.remove(at: i)
        entries.append(entry)
        sequence.startPrefill(after: best, copying: entry.cache)
        return best
    }

    /// Keeps the keys and values of `sequence`'s prompt; call once its prefill is complete. An entry that
    /// holds a prefix of this prompt is replaced by it; a prompt that is a prefix of an entry adds nothing.
    public func store(_ sequence: GenerationSequence, owner: String) {
        let prompt = sequence.prompt
        guard prompt.count <= maxPositions, sequence.cache.length >= prompt.count else { return }
        if entries.contains(where: { $0.owner == owner && $0.tokens.starts(with: prompt) }) { return }
        let superseded = { (entry: Entry) in entry.owner == owner && prompt.starts(with: entry.tokens) }
        positions -= entries.filter(superseded).reduce(0) { $0 + $1.tokens.count }
        entries.removeAll(where: superseded)
        let cache = KVCache(layerCount: sequence.cache.layerCount, kvDim: sequence.cache.kvDim, capacity: prompt.count)
        cache.copy(from: sequence.cache, positions: prompt.count)
        entries.append(Entry(owner: owner, tokens: prompt, cache: cache))
        positions += prompt.count
        while positions > maxPositions { positions -= entries.removeFirst().tokens.count }
    }
}
