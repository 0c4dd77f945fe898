// QuantGoldenTests: a tiny Llama-3-style model in every quantisation llama.cpp makes (Q2_K, Q3_K_M, Q4_K_M,
// Q5_K_M, Q6_K, Q5_0, Q5_1 — llama-quantize's own per-tensor mixes, Fixtures/quants/make_quant_models.py): each
// file loads with the types llama.cpp chose, its chats tokenise as llama-server tokenises them, and greedy
// decoding gives llama-server's 16 tokens on the same weights expanded to F32.

import ChatTemplate
import Foundation
import Inference
import Llama
import ModelFiles
import ProximaCore
import XCTest

final class QuantGoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct Chat: Decodable {
            let messages: [[String: String]]
            let renderedOn: String
            let promptIDs: [Int]
            let continuationIDs: [Int]
            enum CodingKeys: String, CodingKey {
                case messages, renderedOn = "rendered_on", promptIDs = "prompt_ids", continuationIDs = "continuation_ids"
            }
        }
        struct File: Decodable {
            let tensorTypes: [String: Int]
            let chats: [Chat]
            enum CodingKeys: String, CodingKey { case tensorTypes = "tensor_types", chats }
        }
        let types: [String: File]
    }

    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/quants")

    func testEveryQuantisationDecodesAsLlamaCppOnTheSameWeights() throws {
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.directory.appendingPathComponent("quants.json")))
        XCTAssertEqual(Set(golden.types.keys), ["Q2_K", "Q3_K_M", "Q4_K_M", "Q5_K_M", "Q6_K", "Q5_0", "Q5_1"])
        for (name, file) in golden.types.sorted(by: { $0.key < $1.key }) {
            let path = Self.directory.appendingPathComponent("tiny.\(name).gguf").path
            let stored = Dictionary(try GGUFFile(path: path).tensors.map { ("\($0.type)", 1) }, uniquingKeysWith: +)
            XCTAssertEqual(stored, file.tensorTypes, "\(name): the tensor types llama-quantize chose")
            let model = try ModelBundle(path: path, pool: nil)
            for chat in file.chats {
                let messages = chat.messages.map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
                XCTAssertEqual(try model.promptTokens(for: messages, now: FamilyGoldenTests.date(chat.renderedOn)), chat.promptIDs,
                               "\(name): \(messages.last!.content)")
                let (mine, _) = FamilyGoldenTests.greedy(model, prompt: chat.promptIDs, forcing: chat.continuationIDs)
                XCTAssertEqual(mine, chat.continuationIDs, "\(name): \(messages.last!.content)")
            }
        }
    }
}
