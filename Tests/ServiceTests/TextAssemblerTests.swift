// TextAssemblerTests: a sample's text is released whole tokens at a time, held back while it could begin a stop
// string, and cut before the token in which a stop string begins — so that the text, the tokens kept (with
// their log-probs) and the usage all end at the same place.

import Service
import TestModels
import Tokenizer
import XCTest

final class TextAssemblerTests: XCTestCase {
    /// Bytes as tokens 0–255 (byte-level spellings), then " is" (256), " Paris" (257).
    private let tokenizer: BPETokenizer = {
        let vocabulary = TokenizerVocabulary(tokens: TinyChatModel.byteSpellings + ["Ġis", "ĠParis"], tokenTypes: Array(repeating: .normal, count: 258),
                                             merges: [], preTokenizer: "gpt2", eosID: nil)
        return try! BPETokenizer(vocabulary: vocabulary)
    }()

    private func bytes(_ text: String) -> [Int] { text.utf8.map(Int.init) }

    func testAStopStringCutsBeforeTheTokenItBeginsIn() {
        var assembler = TextAssembler(tokenizer: tokenizer, stops: ["is P"])
        var streamed = ""
        var stopped = false
        for token in bytes("The capital of France") + [256, 257, Int(UInt8(ascii: "."))] where !stopped {
            let (delta, stop) = assembler.push(token)
            streamed += delta
            stopped = stop
        }
        XCTAssertTrue(stopped)
        XCTAssertEqual(assembler.finish(), "")
        // " is" holds the stop string's start: it and everything after it are cut, the text and the tokens alike.
        XCTAssertEqual(assembler.text, "The capital of France")
        XCTAssertEqual(streamed, assembler.text)
        XCTAssertEqual(assembler.releasedTokens, "The capital of France".utf8.count)
        XCTAssertEqual(tokenizer.decode(Array(bytes("The capital of France") + [256]).prefix(assembler.releasedTokens).map { $0 }),
                       assembler.text, "the tokens kept decode to the text kept")
    }

    func testTextThatMightStartAStopStringWaitsAndIsReleasedWhenItDoesNot() {
        var assembler = TextAssembler(tokenizer: tokenizer, stops: ["is P"])
        XCTAssertEqual(assembler.push(Int(UInt8(ascii: "A"))).delta, "A")
        XCTAssertEqual(assembler.push(256).delta, "", "\" is\" ends with a beginning of the stop string: held back")
        XCTAssertEqual(assembler.push(Int(UInt8(ascii: " "))).delta, "", "\" is \" still might be")
        let (delta, stopped) = assembler.push(Int(UInt8(ascii: "x")))
        XCTAssertEqual(delta, " is x")
        XCTAssertFalse(stopped)
        XCTAssertEqual(assembler.releasedTokens, 4)
    }

    func testACharacterSplitOverTokensIsReleasedWithTheTokenThatCompletesIt() {
        var assembler = TextAssembler(tokenizer: tokenizer, stops: [])
        XCTAssertEqual(assembler.push(0xC3).delta, "")
        XCTAssertEqual(assembler.releasedTokens, 0, "a token without text of its own waits")
        XCTAssertEqual(assembler.push(0xA9).delta, "é")
        XCTAssertEqual(assembler.releasedTokens, 2)
        XCTAssertEqual(assembler.push(0xC3).delta, "")
        XCTAssertEqual(assembler.finish(), "\u{FFFD}", "an unfinished character at the end becomes U+FFFD")
        XCTAssertEqual(assembler.releasedTokens, 3)
    }

    func testWithoutStopStringsEverythingIsReleased() {
        var assembler = TextAssembler(tokenizer: tokenizer, stops: ["", ""])
        var text = ""
        for token in bytes("is Paris") { text += assembler.push(token).delta }
        text += assembler.finish()
        XCTAssertEqual(text, "is Paris")
        XCTAssertFalse(assembler.stopped)
        XCTAssertEqual(assembler.releasedTokens, 8)
    }
}
