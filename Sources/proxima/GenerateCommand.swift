// GenerateCommand: `proxima generate` — one reply to one prompt with the model's chat template, streamed as
// text, or one JSON object with token ids, raw log-probs and the finish reason.

import ArgumentParser
import Foundation
import Inference
import ModelFiles
import ProximaCore
import ProximaNumerics
import Sampling
import Tokenizer

struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Generate a reply to a prompt (chat template applied).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(help: "The user message.") var prompt: String
    @Option(help: "A system message (default: the template's own, if any).") var system: String?
    @Option(name: .customLong("max-tokens"), help: "Most tokens to generate.") var maxTokens = 256
    @Option(help: "Sampling temperature; 0 is greedy.") var temperature: Float = 0.8
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (1 = off).") var topP: Float = 1
    @Option(name: .customLong("top-k"), help: "Keep the k most likely tokens (0 = off).") var topK = 0
    @Option(name: .customLong("min-p"), help: "Drop tokens below min-p × the top probability (0 = off).") var minP: Float = 0
    @Option(help: "Random seed (default: random); the same seed reproduces a run.") var seed: UInt64?
    @Flag(help: "Print one JSON object: prompt_token_ids, token_ids, text, logprobs, finish_reason.") var json = false

    var sampling: SamplingParameters { SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP) }

    func validate() throws {
        if maxTokens < 1 { throw ValidationError("--max-tokens must be at least 1") }
        do { try sampling.validate() } catch { throw ValidationError(error.message) }
    }

    func run() throws {
        let pool = ComputePool(threads: modelOptions.threadCount)
        defer { pool.shutdown() }
        let model = try modelOptions.load(pool: pool)
        var messages: [ChatMessage] = []
        if let system { messages.append(ChatMessage(role: "system", content: system)) }
        messages.append(ChatMessage(role: "user", content: prompt))
        let promptIDs: [Int]
        do { promptIDs = try model.promptTokens(for: messages) } catch { throw CLIError(error.description) }

        let parameters = GenerationParameters(sampling: sampling, maxTokens: maxTokens,
                                              seed: seed ?? UInt64.random(in: 0...UInt64.max), stopTokens: model.stopTokens)
        let sequence = try GenerationSequence(prompt: promptIDs, parameters: parameters, config: model.weights.config)
        let decoder = BatchDecoder(config: model.weights.config, pool: pool)
        var text = StreamingDetokenizer(tokenizer: model.tokenizer)
        let out = FileHandle.standardOutput
        try decoder.run([sequence], weights: model.weights, onToken: { s in
            guard !json, let token = s.tokens.last, !model.stopTokens.contains(token.id) else { return }
            out.write(Data(text.push(token.id).utf8))
        })
        if json {
            let result = GenerateResult(promptTokenIDs: promptIDs, tokenIDs: sequence.tokens.map(\.id),
                                        text: model.tokenizer.decode(sequence.visibleTokens.map(\.id)),
                                        logprobs: sequence.tokens.map(\.logProb), finishReason: sequence.finishReason!.rawValue,
                                        seed: parameters.seed, model: model.name)
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
            out.write(try encoder.encode(result) + Data("\n".utf8))
        } else {
            out.write(Data((text.finish() + "\n").utf8))
        }
    }
}

/// The --json output of `proxima generate`.
struct GenerateResult: Encodable {
    var promptTokenIDs: [Int]
    var tokenIDs: [Int]
    var text: String
    var logprobs: [Float]
    var finishReason: String
    var seed: UInt64
    var model: String

    enum CodingKeys: String, CodingKey {
        case promptTokenIDs = "prompt_token_ids", tokenIDs = "token_ids", text, logprobs
        case finishReason = "finish_reason", seed, model
    }
}
