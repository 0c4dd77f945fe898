// HandmadeVocabularyTests: merges, special tokens, decoding and every vocabulary error, on tiny
// vocabularies built in code where the expected ids can be worked out by hand.

import Tokenizer
import XCTest

final class HandmadeVocabularyTests: XCTestCase {
    private let a = 97, b = 98, c = 99, space = 32

    // MARK: Merges

    func testWithoutMergesEveryByteIsItsOwnToken() throws {
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make())
        XCTAssertEqual(tokenizer.encode("abc"), [a, b, c])
        XCTAssertEqual(tokenizer.encode("é"), [0xC3, 0xA9])
        XCTAssertEqual(tokenizer.encode(""), [])
    }

    func testLowerRankMergesFirst() throws {
        let extra: [(String, TokenType)] = [("ab", .normal), ("bc", .normal), ("abc", .normal)]
        let bcFirst = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra, merges: ["b c", "a b", "a bc"]))
        XCTAssertEqual(bcFirst.encode("abc"), [TinyVocabulary.extraID(2)])
        let abFirst = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra, merges: ["a b", "b c", "a bc"]))
        XCTAssertEqual(abFirst.encode("abc"), [TinyVocabulary.extraID(0), c])
    }

    func testLeftmostPairMergesFirstOnEqualRank() throws {
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: [("aa", .normal)], merges: ["a a"]))
        XCTAssertEqual(tokenizer.encode("aaa"), [TinyVocabulary.extraID(0), a])
        XCTAssertEqual(tokenizer.encode("aaaa"), [TinyVocabulary.extraID(0), TinyVocabulary.extraID(0)])
    }

    func testLongPieceMergesCompletely() throws {
        let extra: [(String, TokenType)] = [("aa", .normal), ("aaaa", .normal)]
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra, merges: ["a a", "aa aa"]))
        let ids = tokenizer.encode(String(repeating: "a", count: 20_001))
        XCTAssertEqual(ids, Array(repeating: TinyVocabulary.extraID(1), count: 5_000) + [a])
    }

    func testMergesUseByteLevelSpellings() throws {
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: [("Ġa", .normal)], merges: ["Ġ a"]))
        XCTAssertEqual(tokenizer.encode("b a"), [b, TinyVocabulary.extraID(0)])
        XCTAssertEqual(tokenizer.id(of: "Ġa"), TinyVocabulary.extraID(0))
        XCTAssertEqual(tokenizer.bytes(of: TinyVocabulary.extraID(0)), [UInt8(space), UInt8(a)])
    }

    func testLlamaBPETakesAWholePieceThatIsAToken() throws {
        let extra: [(String, TokenType)] = [("abc", .normal)]
        let gpt2 = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra))
        XCTAssertEqual(gpt2.encode("abc"), [a, b, c])
        let llama = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra, preTokenizer: "llama-bpe"))
        XCTAssertEqual(llama.encode("abc"), [TinyVocabulary.extraID(0)])
    }

    // MARK: Special tokens

    func testSpecialTokensMatchLeftmostThenLongest() throws {
        let extra: [(String, TokenType)] = [("<s>", .control), ("<s>x", .control), ("x<s", .control)]
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra))
        XCTAssertEqual(tokenizer.encode("a<s>xb"), [a, TinyVocabulary.extraID(1), b])
        XCTAssertEqual(tokenizer.encode("<s><s>"), [TinyVocabulary.extraID(0), TinyVocabulary.extraID(0)])
        XCTAssertEqual(tokenizer.encode("x<s>"), [TinyVocabulary.extraID(2), 62])
    }

    func testControlTokensAreTextWithoutParseSpecialButUserDefinedStayWhole() throws {
        let extra: [(String, TokenType)] = [("<end>", .control), ("<tool>", .userDefined)]
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra))
        let endID = TinyVocabulary.extraID(0), toolID = TinyVocabulary.extraID(1)
        XCTAssertEqual(tokenizer.encode("<end><tool>"), [endID, toolID])
        XCTAssertEqual(tokenizer.encode("<end><tool>", parseSpecial: false), "<end>".utf8.map(Int.init) + [toolID])
        XCTAssertEqual(tokenizer.decode([a, endID, toolID]), "a<tool>")
        XCTAssertEqual(tokenizer.decode([a, endID, toolID], includeSpecial: true), "a<end><tool>")
    }

    /// Literal stretches (message content) never yield control tokens, also with parseSpecial; user-defined
    /// tokens stay whole there as everywhere; outside them nothing changes.
    func testControlTokensInLiteralStretchesAreText() throws {
        let extra: [(String, TokenType)] = [("<end>", .control), ("<tool>", .userDefined)]
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra))
        let endID = TinyVocabulary.extraID(0), toolID = TinyVocabulary.extraID(1)
        let text = "<end>a<end><tool><end>"          // scalars: <end> 0–4, a 5, <end> 6–10, <tool> 11–16, <end> 17–21
        XCTAssertEqual(tokenizer.encode(text, literal: [5..<17]), [endID, a] + "<end>".utf8.map(Int.init) + [toolID, endID])
        XCTAssertEqual(tokenizer.encode(text, literal: []), tokenizer.encode(text))
        // A control token that only overlaps a literal stretch is not matched either.
        XCTAssertEqual(tokenizer.encode("<end>", literal: [4..<5]), "<end>".utf8.map(Int.init))
    }

    func testSpecialTokensSplitTheTextForPreTokenisation() throws {
        let extra: [(String, TokenType)] = [("<e>", .control), ("Ġb", .normal)]
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra, merges: ["Ġ b"]))
        XCTAssertEqual(tokenizer.encode("a b"), [a, TinyVocabulary.extraID(1)])
        XCTAssertEqual(tokenizer.encode("a <e>b"), [a, space, TinyVocabulary.extraID(0), b])
    }

    func testEndOfGenerationIDs() throws {
        let extra: [(String, TokenType)] = [("<|endoftext|>", .control), ("<|im_end|>", .control), ("<|eot_id|>", .normal)]
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: extra, eosID: 5))
        XCTAssertEqual(tokenizer.endOfGenerationIDs, [5, TinyVocabulary.extraID(0), TinyVocabulary.extraID(1)])
        XCTAssertEqual(tokenizer.eosID, 5)
        XCTAssertNil(tokenizer.bosID)
    }

    // MARK: Decoding

    func testDecodeReplacesInvalidUTF8AndSkipsUnknownIDs() throws {
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make())
        XCTAssertEqual(tokenizer.decode([a, 0xFF, b, 10_000, -1]), "a\u{FFFD}b")
        XCTAssertEqual(tokenizer.bytes(of: 10_000), [])
        XCTAssertEqual(tokenizer.decode([0xE2, 0x82, 0xAC]), "€")
    }

    // MARK: Errors

    func testUnknownPreTokenizerIsRefusedWithTheSupportedNames() {
        XCTAssertThrowsError(try BPETokenizer(vocabulary: TinyVocabulary.make(preTokenizer: "deepseek-llm"))) { error in
            XCTAssertEqual(error as? TokenizerError, .unknownPreTokenizer("deepseek-llm"))
            XCTAssertEqual(String(describing: error), #"unknown pre-tokenizer "deepseek-llm"; supported: smollm, gpt2, llama-bpe, qwen2"#)
        }
        XCTAssertThrowsError(try PreTokenizer(name: "default"))
    }

    func testMergeNamingAnUnknownTokenIsRefused() {
        let vocabulary = TinyVocabulary.make(merges: ["a b", "ab zz"])
        XCTAssertThrowsError(try BPETokenizer(vocabulary: vocabulary)) { error in
            XCTAssertEqual(error as? TokenizerError, .mergeNamesUnknownToken(rank: 0, merge: "a b", token: "ab"))
            XCTAssertTrue(String(describing: error).contains("merge 0 \"a b\" names \"ab\""), "\(error)")
        }
        let missingSide = TinyVocabulary.make(extra: [("ab", .normal)], merges: ["a b", "ab zz"])
        XCTAssertThrowsError(try BPETokenizer(vocabulary: missingSide)) { error in
            XCTAssertEqual(error as? TokenizerError, .mergeNamesUnknownToken(rank: 1, merge: "ab zz", token: "zz"))
        }
    }

    func testMalformedMergeIsRefused() {
        XCTAssertThrowsError(try BPETokenizer(vocabulary: TinyVocabulary.make(merges: ["ab"]))) { error in
            XCTAssertEqual(error as? TokenizerError, .malformedMerge(rank: 0, merge: "ab"))
        }
    }

    func testBytesWithoutATokenAreDroppedAndMergesDoNotReachAcrossThem() throws {
        var vocabulary = TinyVocabulary.make(extra: [("!!", .normal)], merges: ["! !"])
        vocabulary.tokens[4] = "<unused byte>"
        let tokenizer = try BPETokenizer(vocabulary: vocabulary)
        let pair = TinyVocabulary.extraID(0), bang = 33
        XCTAssertEqual(tokenizer.encode("!!"), [pair])
        XCTAssertEqual(tokenizer.encode("!\u{4}!"), [bang, bang])
        XCTAssertEqual(tokenizer.encode("a\u{4}b"), [a, b])
    }

    func testInconsistentVocabulariesAreRefused() {
        var vocabulary = TinyVocabulary.make()
        vocabulary.tokenTypes.removeLast()
        XCTAssertThrowsError(try BPETokenizer(vocabulary: vocabulary)) { error in
            XCTAssertEqual(error as? TokenizerError, .tokenTypeCountMismatch(tokens: 256, tokenTypes: 255))
        }
        XCTAssertThrowsError(try BPETokenizer(vocabulary: TinyVocabulary.make(eosID: 256))) { error in
            XCTAssertEqual(error as? TokenizerError, .specialIDOutOfRange(role: "eos", id: 256, vocabularySize: 256))
        }
        let empty = TokenizerVocabulary(tokens: [], merges: [], preTokenizer: "gpt2")
        XCTAssertThrowsError(try BPETokenizer(vocabulary: empty)) { error in
            XCTAssertEqual(error as? TokenizerError, .emptyVocabulary)
        }
    }
}
