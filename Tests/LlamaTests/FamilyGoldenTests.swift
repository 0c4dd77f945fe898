// FamilyGoldenTests: the Qwen2, Qwen3 and Llama-3 families against llama.cpp and PyTorch on tiny files of each
// (Fixtures/families, made by make_families.py): the chat template's rendering and the prompt's token ids equal
// llama-server's, greedy continuations equal llama-server's token for token, log-probs are PyTorch fp32's within
// 1e-4 nats, plain texts tokenise as llama.cpp tokenises them.

import Foundation
import ChatTemplate
import Inference
import Llama
import ModelFiles
import ProximaCore
import ProximaNumerics
import XCTest

final class FamilyGoldenTests: XCTestCase {
    struct Golden: Decodable {
        struct Chat: Decodable {
            let messages: [[String: String]]
            let rendered: String
            let renderedOn: String
            let promptIDs: [Int]
            let continuationIDs: [Int]
            let logProbs: [Double]
            enum CodingKeys: String, CodingKey {
                case messages, rendered, renderedOn = "rendered_on", promptIDs = "prompt_ids", continuationIDs = "continuation_ids"
                case logProbs = "log_probs"
            }
        }
        struct Text: Decodable { let text: String; let ids: [Int] }
        let chats: [Chat]
        let texts: [Text]
    }

    /// The tokens make_families.py asks llama-server for (CONTINUATION).
    static let continuationLength = 12
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/families")

    static func load(_ family: String) throws -> (ModelBundle, Golden) {
        let model = try ModelBundle(path: directory.appendingPathComponent("\(family).gguf").path, pool: nil)
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: directory.appendingPathComponent("\(family).json")))
        return (model, golden)
    }

    static func date(_ iso: String) -> TemplateDate {
        let parts = iso.split(separator: "-").map { Int($0)! }
        return TemplateDate(year: parts[0], month: parts[1], day: parts[2], hour: 12)
    }

    /// Greedy decoding through the serving forward, one token a step, teacher-forced with `continuation`: the
    /// argmax at each step, and the log-prob of the forced token there.
    static func greedy(_ model: ModelBundle, prompt: [Int], forcing continuation: [Int]) -> (tokens: [Int], logProbs: [Double]) {
        let c = model.weights.config
        let workspace = InferenceWorkspace(config: c, maxRows: max(prompt.count, 1))
        let cache = KVCache(config: c)
        var rows = prompt.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: $0.offset == prompt.count - 1) }
        var tokens: [Int] = [], logProbs: [Double] = []
        for (i, forced) in continuation.enumerated() {
            let logits = model.weights.forward(rows, workspace: workspace, pool: nil)
            var best = 0
            for t in 1..<c.vocabSize where logits[t] > logits[best] { best = t }
            tokens.append(best)
            logProbs.append(Double(logits[forced] - logSumExp(logits, c.vocabSize)))
            rows = [ForwardRow(token: forced, position: prompt.count + i, cache: cache, wantsLogits: true)]
        }
        return (tokens, logProbs)
    }

    func testEachFamilyLoadsAsItsArchitecture() throws {
        let expected: [(String, ModelArchitecture, Int, Bool)] = [("qwen2", .qwen2, 64, true), ("qwen3", .qwen3, 128, false), ("llama3", .llama, 64, false)]
        for (family, architecture, qDim, tied) in expected {
            let (model, _) = try Self.load(family)
            let c = model.weights.config
            XCTAssertEqual(c.architecture, architecture, family)
            XCTAssertEqual(c.qDim, qDim, family)
            XCTAssertEqual(model.weights.outputHead.dense == model.weights.tokenEmbedding.dense, tied, family)
            XCTAssertEqual(c.ropeFactors != nil, family == "llama3", family)
        }
    }

    func testPromptsAndTextsTokeniseAsLlamaCpp() throws {
        for family in ["qwen2", "qwen3", "llama3"] {
            let (model, golden) = try Self.load(family)
            let bos = model.tokenizer.addsBOS ? model.tokenizer.bosID.flatMap(model.tokenizer.token(of:)) ?? "" : ""
            var variables: [String: TemplateValue] = [:]
            if let eos = model.tokenizer.eosID.flatMap(model.tokenizer.token(of:)) { variables["eos_token"] = .string(eos) }
            variables["bos_token"] = .string(bos)
            for chat in golden.chats {
                let messages = chat.messages.map { ChatMessage(role: $0["role"]!, content: $0["content"]!) }
                let now = Self.date(chat.renderedOn)
                let rendered = try model.chatTemplate.render(messages: messages, addGenerationPrompt: true, variables: variables, now: now)
                XCTAssertEqual(rendered, bos + chat.rendered, "\(family): \(messages.last!.content)")
                XCTAssertEqual(try model.promptTokens(for: messages, now: now), chat.promptIDs, "\(family): \(messages.last!.content)")
            }
            for text in golden.texts {
                XCTAssertEqual(model.tokenizer.encode(text.text, parseSpecial: false), text.ids, "\(family): \(text.text)")
            }
        }
    }

    /// Greedy decoding through the serving forward, one token a step, gives llama-server's continuation; the
    /// chosen tokens' log-probs are PyTorch's.
    func testGreedyContinuationsEqualLlamaCppAndLogProbsEqualPyTorch() throws {
        var worst = 0.0
        for family in ["qwen2", "qwen3", "llama3"] {
            let (model, golden) = try Self.load(family)
            for chat in golden.chats {
                let (mine, logProbs) = Self.greedy(model, prompt: chat.promptIDs, forcing: chat.continuationIDs)
                for (i, (logProb, expected)) in zip(logProbs, chat.logProbs).enumerated() {
                    worst = max(worst, abs(logProb - expected))
                    XCTAssertEqual(logProb, expected, accuracy: 1e-4, "\(family) position \(i)")
                }
                XCTAssertEqual(mine, chat.continuationIDs, "\(family): \(chat.messages.last!["content"]!)")
                // llama-server stopped early at an end-of-generation token (the last listed): the model's stop tokens have it.
                if chat.continuationIDs.count < Self.continuationLength {
                    XCTAssertTrue(model.stopTokens.contains(chat.continuationIDs.last!), "\(family): \(chat.continuationIDs.last!) does not end generation")
                }
            }
        }
        print("families: largest log-prob gap to PyTorch \(String(format: "%.2e", worst)) nats")
    }
}
