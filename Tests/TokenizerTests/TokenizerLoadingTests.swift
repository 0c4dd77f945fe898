// TokenizerLoadingTests: building a tokenizer from small GGUF files written for the test, and the errors
// that name the file and the metadata key when the tokenizer metadata is wrong.

import Foundation
import ModelFiles
import Tokenizer
import XCTest

final class TokenizerLoadingTests: XCTestCase {
    private var path = ""

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-tokenizer-\(UUID()).gguf").path
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: path)
    }

    /// A GGUF holding a tiny vocabulary's tokenizer metadata, with `changes` applied last.
    private func writeFile(merges: [String] = [], changes: [(String, GGUFValue)] = []) throws {
        let vocabulary = TinyVocabulary.make(extra: [("ab", .normal), ("<|im_end|>", .control)])
        var writer = GGUFWriter()
        var metadata: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string("smollm")),
            ("tokenizer.ggml.tokens", .array(.string, vocabulary.tokens.map(GGUFValue.string))),
            ("tokenizer.ggml.token_type", .array(.int32, vocabulary.tokenTypes.map { .int32($0.rawValue) })),
            ("tokenizer.ggml.merges", .array(.string, merges.map(GGUFValue.string))),
            ("tokenizer.ggml.eos_token_id", .uint32(257)),
        ]
        for (key, value) in changes {
            metadata.removeAll { $0.0 == key }
            metadata.append((key, value))
        }
        for (key, value) in metadata { writer.set(key, value) }
        try writer.write(to: path)
    }

    private func assertRefused(mentioning parts: [String], line: UInt = #line) {
        XCTAssertThrowsError(try BPETokenizer(gguf: GGUFFile(path: path)), line: line) { error in
            let message = String(describing: error)
            for part in [path] + parts {
                XCTAssertTrue(message.contains(part), "\(message) lacks \(part)", line: line)
            }
        }
    }

    func testTokenizerFromGGUF() throws {
        try writeFile(merges: ["a b"])
        let tokenizer = try BPETokenizer(gguf: GGUFFile(path: path))
        XCTAssertEqual(tokenizer.encode("xab<|im_end|>"), [120, 256, 257])
        XCTAssertEqual(tokenizer.endOfGenerationIDs, [257])
        XCTAssertEqual(tokenizer.preTokenizer, .smollm)
        XCTAssertFalse(tokenizer.addsBOS)
    }

    func testUnknownPreTokenizerNamesFileKeyAndSupportedNames() throws {
        try writeFile(changes: [("tokenizer.ggml.pre", .string("mystery"))])
        assertRefused(mentioning: ["tokenizer.ggml.pre", "mystery", "smollm, gpt2, llama-bpe"])
    }

    func testBadTokenTypeNamesKeyAndToken() throws {
        try writeFile(changes: [("tokenizer.ggml.token_type", .array(.int32, (0..<258).map { .int32($0 == 5 ? 9 : 1) }))])
        assertRefused(mentioning: ["tokenizer.ggml.token_type", "token 5"])
    }

    func testMergeNamingUnknownTokenNamesMergesKey() throws {
        try writeFile(merges: ["a b", "b c"])
        assertRefused(mentioning: ["tokenizer.ggml.merges", "merge 1", "\"bc\""])
    }

    func testOtherTokenizerModelsAreUnsupported() throws {
        try writeFile(changes: [("tokenizer.ggml.model", .string("llama"))])
        assertRefused(mentioning: ["tokenizer.ggml.model", "llama"])
    }

    func testMissingMergesNameTheKey() throws {
        try writeFile()
        let withoutMerges = try GGUFFile(path: path).metadata.filter { $0.key != "tokenizer.ggml.merges" }
        var writer = GGUFWriter()
        for (key, value) in withoutMerges { writer.set(key, value) }
        try writer.write(to: path)
        assertRefused(mentioning: ["missing", "tokenizer.ggml.merges"])
    }
}
