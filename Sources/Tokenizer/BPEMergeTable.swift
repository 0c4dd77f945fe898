// BPEMergeTable: the merges as a map from a pair of token ids to (rank, merged id), and the merge loop
// that turns one pre-token piece's byte tokens into its final tokens (lowest rank first, leftmost on ties).

// MARK: - Table

/// Merge rules by token-id pair. Keys pack (left, right), values pack (rank, merged id), 32 bits each.
struct BPEMergeTable: Sendable {
    private var rules: [UInt64: UInt64] = [:]

    init() {}

    var count: Int { rules.count }

    /// Adds a rule unless the pair already has one (an earlier rank wins, as in llama.cpp).
    mutating func add(left: Int, right: Int, merged: Int, rank: Int) {
        let key = Self.pairKey(Int32(left), Int32(right))
        if rules[key] == nil { rules[key] = UInt64(UInt32(rank)) << 32 | UInt64(UInt32(merged)) }
    }

    /// The rank and result of merging `left` then `right`, if they merge.
    func rule(_ left: Int32, _ right: Int32) -> (rank: UInt32, merged: Int32)? {
        guard let packed = rules[Self.pairKey(left, right)] else { return nil }
        return (UInt32(truncatingIfNeeded: packed >> 32), Int32(truncatingIfNeeded: packed))
    }

    private static func pairKey(_ left: Int32, _ right: Int32) -> UInt64 {
        UInt64(UInt32(bitPattern: left)) << 32 | UInt64(UInt32(bitPattern: right))
    }
}

// MARK: - Merging one piece

/// The symbols being merged and reusable buffers for `BPEMergeTable.merge`, so encoding a long text
/// allocates them once.
struct MergeScratch {
    /// Token ids of the piece being merged; merged in place.
    var symbols: [Int32] = []
    /// Index of the next live symbol (or the symbol count), per symbol.
    fileprivate var next: [Int] = []
    /// Index of the previous live symbol (or -1), per symbol.
    fileprivate var previous: [Int] = []
    /// Candidate merges as (rank << 32 | left position): a min-heap, so the lowest rank pops first and,
    /// among equal ranks, the leftmost.
    fileprivate var heap: [UInt64] = []
}

extension BPEMergeTable {
    /// Applies the merges to `scratch.symbols` (the byte tokens of one piece) until no adjacent pair
    /// merges. A merged symbol keeps the left position; heap entries whose pair has since changed are skipped.
    func merge(_ scratch: inout MergeScratch) {
        let count = scratch.symbols.count
        guard count >= 2 else { return }
        if count == 2 {
            if let rule = rule(scratch.symbols[0], scratch.symbols[1]) {
                scratch.symbols[0] = rule.merged
                scratch.symbols.removeLast()
            }
            return
        }
        scratch.next.removeAll(keepingCapacity: true)
        scratch.next.append(contentsOf: 1...count)
        scratch.previous.removeAll(keepingCapacity: true)
        scratch.previous.append(contentsOf: -1..<(count - 1))
        scratch.heap.removeAll(keepingCapacity: true)
        for position in 0..<(count - 1) {
            if let rule = rule(scratch.symbols[position], scratch.symbols[position + 1]) {
                scratch.heap.pushMin(UInt64(rule.rank) << 32 | UInt64(position))
            }
        }
        let removed: Int32 = -1
        while let candidate = scratch.heap.popMin() {
            let position = Int(candidate & 0xFFFF_FFFF)
            let right = scratch.next[position]
            guard scratch.symbols[position] != removed, right < count,
                  let rule = rule(scratch.symbols[position], scratch.symbols[right]),
                  UInt64(rule.rank) == candidate >> 32 else { continue }
            scratch.symbols[position] = rule.merged
            scratch.symbols[right] = removed
            let afterRight = scratch.next[right]
            scratch.next[position] = afterRight
            if afterRight < count { scratch.previous[afterRight] = position }
            let before = scratch.previous[position]
            if before >= 0, let leftRule = self.rule(scratch.symbols[before], scratch.symbols[position]) {
                scratch.heap.pushMin(UInt64(leftRule.rank) << 32 | UInt64(before))
            }
            if afterRight < count, let rightRule = self.rule(scratch.symbols[position], scratch.symbols[afterRight]) {
                scratch.heap.pushMin(UInt64(rightRule.rank) << 32 | UInt64(position))
            }
        }
        scratch.symbols.removeAll { $0 == removed }
    }
}

// MARK: - Binary min-heap on an array

private extension Array where Element == UInt64 {
    mutating func pushMin(_ value: UInt64) {
        append(value)
        var child = count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard self[child] < self[parent] else { break }
            swapAt(child, parent)
            child = parent
        }
    }

    mutating func popMin() -> UInt64? {
        guard let last = popLast() else { return nil }
        guard !isEmpty else { return last }
        let top = self[0]
        self[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1
            guard left < count else { break }
            let right = left + 1
            let smaller = right < count && self[right] < self[left] ? right : left
            guard self[smaller] < self[parent] else { break }
            swapAt(smaller, parent)
            parent = smaller
        }
        return top
    }
}
