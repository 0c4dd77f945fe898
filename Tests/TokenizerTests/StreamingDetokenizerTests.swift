// StreamingDetokenizerTests: token-by-token text never contains a broken character, even when tokens
// split emoji and CJK characters, and adds up to exactly what decode gives.

import Tokenizer
import XCTest

final class StreamingDetokenizerTests: XCTestCase {
    private let splitTexts = [
        "emoji 😀🎉👍🏽 family 👨‍👩‍👧‍👦 flag 🇫🇷",
        "日本語のテキストです。中文：你好，世界！한국어 문장입니다",
        "mixed: English, 日本語, العربية, עברית, हिन्दी ∑ x² ≤ ∞",
    ]

    func testStreamNeverEmitsBrokenCharactersAndEqualsDecode() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        var tokensEndingMidCharacter = 0
        for text in splitTexts {
            let ids = tokenizer.encode(text)
            var stream = StreamingDetokenizer(tokenizer: tokenizer)
            var streamed = ""
            var bytesSoFar: [UInt8] = []
            for id in ids {
                bytesSoFar += tokenizer.bytes(of: id)
                if String(validating: bytesSoFar, as: UTF8.self) == nil { tokensEndingMidCharacter += 1 }
                let piece = stream.push(id)
                XCTAssertFalse(piece.unicodeScalars.contains("\u{FFFD}"), "broken character after token \(id)")
                streamed += piece
                XCTAssertTrue(text.utf8.starts(with: streamed.utf8))
            }
            streamed += stream.finish()
            XCTAssertEqual(streamed, tokenizer.decode(ids))
            XCTAssertEqual(streamed, text)
        }
        XCTAssertGreaterThan(tokensEndingMidCharacter, 5, "the texts should split characters across tokens")
    }

    func testHeldBytesAreReleasedOnceTheCharacterCompletes() throws {
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make())
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        XCTAssertEqual(stream.push(0x61), "a")
        XCTAssertEqual(stream.push(0xF0), "")
        XCTAssertEqual(stream.push(0x9F), "")
        XCTAssertEqual(stream.push(0x98), "")
        XCTAssertEqual(stream.push(0x80), "😀")
        XCTAssertEqual(stream.finish(), "")
    }

    func testInvalidBytesBecomeReplacementCharacters() throws {
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make())
        var stream = StreamingDetokenizer(tokenizer: tokenizer)
        XCTAssertEqual(stream.push(0xFF), "\u{FFFD}")
        XCTAssertEqual(stream.push(0xE0), "")
        XCTAssertEqual(stream.push(0x80), "\u{FFFD}\u{FFFD}", "E0 80 can never become valid")
        XCTAssertEqual(stream.push(0xE2), "")
        XCTAssertEqual(stream.push(0x82), "")
        XCTAssertEqual(stream.push(0x62), "\u{FFFD}b")
        XCTAssertEqual(stream.push(0xC3), "")
        XCTAssertEqual(stream.finish(), "\u{FFFD}")
        XCTAssertEqual(tokenizer.decode([0xFF, 0xE0, 0x80, 0xE2, 0x82, 0x62, 0xC3]), "\u{FFFD}\u{FFFD}\u{FFFD}\u{FFFD}b\u{FFFD}")
    }

    func testControlTokensAreSkippedUnlessIncluded() throws {
        let tokenizer = try BPETokenizer(vocabulary: TinyVocabulary.make(extra: [("<end>", .control)]))
        var plain = StreamingDetokenizer(tokenizer: tokenizer)
        XCTAssertEqual(plain.push(TinyVocabulary.extraID(0)), "")
        var withSpecial = StreamingDetokenizer(tokenizer: tokenizer, includeSpecial: true)
        XCTAssertEqual(withSpecial.push(TinyVocabulary.extraID(0)), "<end>")
    }
}
