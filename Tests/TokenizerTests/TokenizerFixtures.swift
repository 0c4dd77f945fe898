// TokenizerFixtures: what the tokenizer tests share: the default model's tokenizer (loaded once), the
// reference vectors made by Fixtures/make_tokenizer_vectors.py, and tiny vocabularies built in code.

import Foundation
import ModelFiles
import TestSupport
import Tokenizer

// MARK: - The default model

enum DefaultModelTokenizer {
    private static let loaded: Result<BPETokenizer, any Error> = Result {
        try BPETokenizer(gguf: GGUFFile(path: TestPaths.defaultModel()))
    }

    /// The tokenizer of the real default model (fetched if missing; loaded once per test run).
    static func load() throws -> BPETokenizer { try loaded.get() }
}

// MARK: - Reference vectors

/// Fixtures/tokenizer_vectors.json: HF `tokenizers` ids and pre-token pieces for ~40 varied strings.
struct ReferenceVectors: Decodable {
    struct EncodeCase: Decodable {
        let text: String
        let ids: [Int]
        /// The text less the bytes that have no token (the same as `text` for all but one case).
        let decoded: String
        let idsWithoutSpecial: [Int]
        enum CodingKeys: String, CodingKey { case text, ids, decoded, idsWithoutSpecial = "ids_without_special" }
    }

    struct PretokenizeCase: Decodable {
        let text: String
        let smollm: [String]
        let gpt2: [String]
        let llamaBPE: [String]
        let qwen2: [String]
        enum CodingKeys: String, CodingKey { case text, smollm, gpt2, llamaBPE = "llama-bpe", qwen2 }

        func pieces(for preTokenizer: PreTokenizer) -> [String] {
            switch preTokenizer {
            case .smollm: return smollm
            case .gpt2: return gpt2
            case .llamaBPE: return llamaBPE
            case .qwen2: return qwen2
            }
        }
    }

    let encode: [EncodeCase]
    let pretokenize: [PretokenizeCase]

    static func load() throws -> ReferenceVectors {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("Fixtures/tokenizer_vectors.json")
        return try JSONDecoder().decode(ReferenceVectors.self, from: Data(contentsOf: url))
    }
}

// MARK: - Tiny vocabularies

/// Vocabularies made in code: ids 0…255 are the byte-level tokens in byte order (so a byte's id is its
/// value), then `extra` tokens from 256 on.
enum TinyVocabulary {
    static func make(
        extra: [(String, TokenType)] = [], merges: [String] = [], preTokenizer: String = "gpt2", eosID: Int? = nil
    ) -> TokenizerVocabulary {
        let bytes = (0...255).map { byteSpelling(UInt8($0)) }
        return TokenizerVocabulary(
            tokens: bytes + extra.map(\.0), tokenTypes: bytes.map { _ in .normal } + extra.map(\.1),
            merges: merges, preTokenizer: preTokenizer, eosID: eosID)
    }

    /// The GPT-2 byte-level spelling of a byte, written out independently of the library's own table.
    static func byteSpelling(_ byte: UInt8) -> String { byteSpellings[Int(byte)] }

    private static let byteSpellings: [String] = {
        let printable = Set(Array(0x21...0x7E) + Array(0xA1...0xAC) + Array(0xAE...0xFF))
        var nextShifted: UInt32 = 256
        return (0...255).map { byte in
            if printable.contains(byte) { return String(UnicodeScalar(UInt8(byte))) }
            defer { nextShifted += 1 }
            return String(UnicodeScalar(nextShifted)!)
        }
    }()

    /// Byte-level spelling of a whole ASCII string, e.g. " ab" → "Ġab".
    static func spelling(_ text: String) -> String { text.utf8.map(byteSpelling).joined() }

    /// The id of an extra token (its index among `extra` plus 256).
    static func extraID(_ index: Int) -> Int { 256 + index }
}
