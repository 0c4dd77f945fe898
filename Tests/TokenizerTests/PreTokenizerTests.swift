// PreTokenizerTests: the hand-written split scanners against HF tokenizers' regex splits (reference
// vectors) and against hand-worked cases for the corners of each pattern.

import Tokenizer
import XCTest

final class PreTokenizerTests: XCTestCase {
    func testPiecesEqualReferenceSplits() throws {
        let vectors = try ReferenceVectors.load()
        for preTokenizer in PreTokenizer.allCases {
            for reference in vectors.pretokenize {
                XCTAssertEqual(preTokenizer.pieces(of: reference.text), reference.pieces(for: preTokenizer),
                               "\(preTokenizer.rawValue): \(reference.text.debugDescription)")
            }
        }
    }

    func testGPT2Corners() {
        let gpt2 = PreTokenizer.gpt2
        XCTAssertEqual(gpt2.pieces(of: "a   b"), ["a", "  ", " b"])
        XCTAssertEqual(gpt2.pieces(of: "a\t\tb"), ["a", "\t", "\t", "b"])
        XCTAssertEqual(gpt2.pieces(of: "x  "), ["x", "  "])
        XCTAssertEqual(gpt2.pieces(of: "it's 'S"), ["it", "'s", " '", "S"])
        XCTAssertEqual(gpt2.pieces(of: " 42!?"), [" 42", "!?"])
        XCTAssertEqual(gpt2.pieces(of: ""), [])
    }

    func testSmolLMCutsEveryDigitAndEndsStretchesThere() {
        let smollm = PreTokenizer.smollm
        XCTAssertEqual(smollm.pieces(of: "a  1"), ["a", "  ", "1"])
        XCTAssertEqual(smollm.pieces(of: "x12 y"), ["x", "1", "2", " y"])
        XCTAssertEqual(smollm.pieces(of: "v²½"), ["v", "²", "½"])
    }

    func testLlama3Corners() {
        let llama = PreTokenizer.llamaBPE
        XCTAssertEqual(llama.pieces(of: "1234567"), ["123", "456", "7"])
        XCTAssertEqual(llama.pieces(of: "(hello \tworld"), ["(hello", " ", "\tworld"])
        XCTAssertEqual(llama.pieces(of: "I'LL go"), ["I", "'LL", " go"])
        XCTAssertEqual(llama.pieces(of: "a \n \n b"), ["a", " \n \n", " b"])
        XCTAssertEqual(llama.pieces(of: "end.\n\nNext"), ["end", ".\n\n", "Next"])
    }

    func testQwen2CutsEveryDigitAndOtherwiseSplitsLikeLlama3() {
        let qwen = PreTokenizer.qwen2
        XCTAssertEqual(qwen.pieces(of: "1234 apples"), ["1", "2", "3", "4", " apples"])
        XCTAssertEqual(qwen.pieces(of: "I'LL go"), ["I", "'LL", " go"])
        XCTAssertEqual(qwen.pieces(of: "end.\n\nNext"), ["end", ".\n\n", "Next"])
    }

    func testPiecesJoinToTheText() throws {
        for preTokenizer in PreTokenizer.allCases {
            for reference in try ReferenceVectors.load().pretokenize {
                XCTAssertEqual(preTokenizer.pieces(of: reference.text).joined(), reference.text)
            }
        }
    }
}
