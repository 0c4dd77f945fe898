// DefaultModelTokenizerTests: the real model's tokenizer against the goldens in ../shared/golden (prompt ids
// from PyTorch/transformers and llama.cpp, greedy text) and HF reference vectors; loading and speed.

import Foundation
import ModelFiles
import TestSupport
import Tokenizer
import XCTest

final class DefaultModelTokenizerTests: XCTestCase {
    // MARK: Goldens

    private func goldenCases(_ name: String) throws -> [[String: Any]] {
        let golden = try XCTUnwrap(try TestPaths.json(TestPaths.golden(name)) as? [String: Any])
        return try XCTUnwrap(golden["cases"] as? [[String: Any]])
    }

    func testPromptIDsEqualTorchGolden() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        let cases = try goldenCases("torch_fp32_greedy.json")
        XCTAssertEqual(cases.count, 5)
        for golden in cases {
            let text = try XCTUnwrap(golden["prompt_text"] as? String)
            XCTAssertEqual(tokenizer.encode(text), try XCTUnwrap(golden["prompt_ids"] as? [Int]), text)
        }
    }

    func testPromptIDsAndPiecesEqualLlamaCppGolden() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        let cases = try goldenCases("llamacpp_greedy_q4_1.json")
        XCTAssertEqual(cases.count, 5)
        for golden in cases {
            let text = try XCTUnwrap(golden["prompt_text"] as? String)
            let ids = tokenizer.encode(text)
            XCTAssertEqual(ids, try XCTUnwrap(golden["prompt_ids"] as? [Int]), text)
            let pieces = try XCTUnwrap(golden["prompt_pieces"] as? [String])
            XCTAssertEqual(ids.map { tokenizer.decode([$0], includeSpecial: true) }, pieces, text)
        }
    }

    func testGreedyIDsDecodeToTorchGreedyText() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        for golden in try goldenCases("torch_fp32_greedy.json") {
            let ids = try XCTUnwrap(golden["greedy_ids"] as? [Int])
            XCTAssertEqual(tokenizer.decode(ids), try XCTUnwrap(golden["greedy_text"] as? String))
        }
    }

    func testDefaultModelFacts() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        XCTAssertEqual(tokenizer.vocabularySize, 49_152)
        XCTAssertEqual(tokenizer.preTokenizer, .smollm)
        XCTAssertEqual(tokenizer.eosID, 2)
        XCTAssertEqual(tokenizer.bosID, 1)
        XCTAssertEqual(tokenizer.paddingID, 2)
        XCTAssertFalse(tokenizer.addsBOS)
        XCTAssertEqual(tokenizer.endOfGenerationIDs, [0, 2])
        XCTAssertEqual(tokenizer.id(of: "<|im_start|>"), 1)
        XCTAssertEqual(tokenizer.token(of: 2), "<|im_end|>")
        XCTAssertEqual(tokenizer.tokenType(of: 0), .control)
        XCTAssertEqual(tokenizer.id(of: "Ġthe"), tokenizer.encode(" the").first)
        XCTAssertNil(tokenizer.token(of: 49_152))
        XCTAssertEqual(tokenizer.bytes(of: 198), [0x0A])
        XCTAssertEqual(tokenizer.bytes(of: 1), Array("<|im_start|>".utf8))
    }

    // MARK: Reference vectors (HF tokenizers)

    func testEncodingEqualsReferenceVectors() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        let vectors = try ReferenceVectors.load()
        XCTAssertGreaterThanOrEqual(vectors.encode.count, 40)
        for reference in vectors.encode {
            XCTAssertEqual(tokenizer.encode(reference.text), reference.ids, reference.text.debugDescription)
            XCTAssertEqual(tokenizer.encode(reference.text, parseSpecial: false), reference.idsWithoutSpecial,
                           reference.text.debugDescription)
        }
    }

    func testDecodeOfEncodeGivesTextBack() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        let cases = try ReferenceVectors.load().encode
        for reference in cases {
            let text = reference.text
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text), includeSpecial: true), reference.decoded)
            XCTAssertEqual(tokenizer.decode(tokenizer.encode(text, parseSpecial: false)), reference.decoded)
        }
        XCTAssertEqual(cases.filter { $0.decoded != $0.text }.count, 1, "only the case of bytes without tokens loses text")
    }

    func testSpecialTokensAreParsedOnlyWhenAsked() throws {
        let tokenizer = try DefaultModelTokenizer.load()
        let text = "<|im_start|>user\nHi<|im_end|>"
        let parsed = tokenizer.encode(text)
        XCTAssertEqual(parsed.first, 1)
        XCTAssertEqual(parsed.last, 2)
        let plain = tokenizer.encode(text, parseSpecial: false)
        XCTAssertFalse(plain.contains { tokenizer.tokenType(of: $0) == .control })
        XCTAssertEqual(tokenizer.decode(parsed), "user\nHi")
        XCTAssertEqual(tokenizer.decode(parsed, includeSpecial: true), text)
    }

    // MARK: Speed (asserted in release builds only)

    func testLoadingAndEncodingSpeed() throws {
        let path = try TestPaths.defaultModel()
        let loadStart = Date()
        let tokenizer = try BPETokenizer(gguf: GGUFFile(path: path))
        let loadSeconds = Date().timeIntervalSince(loadStart)

        let paragraphs = try goldenCases("torch_fp32_greedy.json").compactMap { $0["greedy_text"] as? String }
            + (try ReferenceVectors.load().encode.map(\.text))
        var text = ""
        while tokenizer.encode(text).count < 4_000 { text += paragraphs.joined(separator: "\n\n") + "\n" }
        var bestEncodeSeconds = Double.infinity
        for _ in 0..<5 {
            let start = Date()
            _ = tokenizer.encode(text)
            bestEncodeSeconds = min(bestEncodeSeconds, Date().timeIntervalSince(start))
        }
        let tokenCount = tokenizer.encode(text).count
        print("tokenizer: read GGUF and build \(Int(loadSeconds * 1000)) ms; encode \(tokenCount) tokens best of 5: "
              + String(format: "%.2f ms", bestEncodeSeconds * 1000))
        #if !DEBUG
        XCTAssertLessThan(loadSeconds, 1.0)
        XCTAssertLessThan(bestEncodeSeconds * 4_000 / Double(tokenCount), 0.020)
        #endif
    }
}
