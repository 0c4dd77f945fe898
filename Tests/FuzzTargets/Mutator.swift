// Mutator: turns an input into a nearby one — bit flips, boundary integers written over length and count
// fields, inserted, deleted, repeated or spliced ranges, dictionary tokens — deterministically from a seed.
// Positions favour the first 4 KiB, where the headers and metadata of binary formats are.

import ProximaNumerics

public struct Mutator {
    private var rng: SplitMix64
    private let dictionary: [[UInt8]]
    public let maxSize: Int

    public init(seed: UInt64, dictionary: [[UInt8]], maxSize: Int) {
        rng = SplitMix64(seed: seed)
        self.dictionary = dictionary
        self.maxSize = maxSize
    }

    public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(rng.next() % UInt64(n)) }

    /// One to five mutations of `input`; `corpus` supplies splice partners.
    public mutating func mutate(_ input: [UInt8], corpus: [[UInt8]]) -> [UInt8] {
        var bytes = input
        for _ in 0...below(5) { mutateOnce(&bytes, corpus: corpus) }
        if bytes.count > maxSize { bytes.removeLast(bytes.count - maxSize) }
        return bytes
    }

    private mutating func position(in bytes: [UInt8], end: Bool = false) -> Int {
        let n = bytes.count + (end ? 1 : 0)
        guard n > 0 else { return 0 }
        return below(4) == 0 ? below(n) : below(min(n, 4096))
    }

    private static let interestingBytes: [UInt8] = [0, 1, 2, 0x7F, 0x80, 0xFF, 0x20, 0x22, 0x5C, 0x7B, 0x7D, 0x30, 0x39]
    private static let interestingWords: [UInt64] = [0, 1, 2, 3, 7, 8, 16, 31, 32, 255, 256, 0x7FFF, 0xFFFF, 0x7FFF_FFFF,
                                                     0x8000_0000, 0xFFFF_FFFF, 0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF,
                                                     0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF]

    private mutating func mutateOnce(_ bytes: inout [UInt8], corpus: [[UInt8]]) {
        switch below(13) {
        case 0 where !bytes.isEmpty:
            bytes[position(in: bytes)] ^= UInt8(1) << UInt8(below(8))
        case 1 where !bytes.isEmpty:
            bytes[position(in: bytes)] = UInt8(truncatingIfNeeded: rng.next())
        case 2 where !bytes.isEmpty:
            bytes[position(in: bytes)] = Self.interestingBytes[below(Self.interestingBytes.count)]
        case 3 where bytes.count >= 8:
            // A boundary integer (or one near the input's size) over a 1, 2, 4 or 8-byte field.
            let width = [1, 2, 4, 8][below(4)]
            let at = min(position(in: bytes), bytes.count - width)
            var value = below(3) == 0 ? UInt64(bytes.count + below(9) - 4) : Self.interestingWords[below(Self.interestingWords.count)]
            for i in 0..<width { bytes[at + i] = UInt8(truncatingIfNeeded: value); value >>= 8 }
        case 4:
            let at = position(in: bytes, end: true)
            bytes.insert(contentsOf: (0..<(1 + below(16))).map { _ in UInt8(truncatingIfNeeded: rng.next()) }, at: at)
        case 5 where bytes.count > 1:
            let at = position(in: bytes)
            bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(32)))
        case 6 where !bytes.isEmpty:
            // A range repeated: nesting and long runs (deep brackets, repeated records).
            let at = position(in: bytes)
            let range = Array(bytes[at..<min(bytes.count, at + 1 + below(16))])
            let times = below(4) == 0 ? 1 + below(512) : 1 + below(4)
            bytes.insert(contentsOf: Array(repeating: range, count: times).joined(), at: position(in: bytes, end: true))
        case 7 where !dictionary.isEmpty:
            bytes.insert(contentsOf: dictionary[below(dictionary.count)], at: position(in: bytes, end: true))
        case 8 where !dictionary.isEmpty && !bytes.isEmpty:
            let token = dictionary[below(dictionary.count)]
            let at = position(in: bytes)
            bytes.replaceSubrange(at..<min(bytes.count, at + token.count), with: token)
        case 9 where !corpus.isEmpty:
            let other = corpus[below(corpus.count)]
            let head = position(in: bytes, end: true), tail = below(other.count + 1)
            bytes = Array(bytes[..<head]) + Array(other[tail...])
        case 10 where bytes.count > 1:
            bytes.removeLast(below(bytes.count))
        case 11 where !bytes.isEmpty:
            let at = position(in: bytes)
            bytes[at] = below(2) == 0 ? bytes[at] &+ 1 : bytes[at] &- 1
        default:
            if !bytes.isEmpty { bytes.swapAt(position(in: bytes), position(in: bytes)) }
        }
    }
}
