// BenchCommand: `proxima bench` — prefill and decode tokens per second in-process, like llama-bench:
// for every (prompt length, stream count) a fresh prefill of the prompt, then gen-tokens decode steps
// with all streams batched.

import ArgumentParser
import Foundation
import Inference
import Learning
import Llama
import ModelFiles
import ProximaNumerics
import Sampling

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prefill and decode throughput (tokens per second).")

    @OptionGroup var modelOptions: ModelOptions
    @Option(name: .customLong("prompt-tokens"), help: "Prompt lengths, comma-separated.") var promptTokens = "64,256"
    @Option(name: .customLong("gen-tokens"), help: "Tokens decoded per stream.") var genTokens = 128
    @Option(help: "Concurrent streams decoded in one batch, comma-separated.") var streams = "1,2,8"
    @Option(help: "Repetitions per configuration (the mean is reported).") var repetitions = 3
    @Flag(help: "One JSON object per line and configuration.") var json = false
    @Flag(help: "Time one BPO training step instead (E=5, rank 16, all seven targets, 16 pairs, prompt 64, responses 96).")
    var train = false
    @Flag(help: "With --train: also print where the step's time goes, by kind of work.") var profile = false
    @Flag(help: "Generate as a learned version does: with the exact merge of 5 LoRA members (rank 16, all seven projections).")
    var adapter = false

    func validate() throws {
        guard parse(promptTokens) != nil else { throw ValidationError("--prompt-tokens must be positive integers, e.g. 64,256") }
        guard parse(streams) != nil else { throw ValidationError("--streams must be positive integers, e.g. 1,2,8") }
        if genTokens < 1 { throw ValidationError("--gen-tokens must be at least 1") }
        if repetitions < 1 { throw ValidationError("--repetitions must be at least 1") }
        if profile && !train { throw ValidationError("--profile goes with --train") }
        if adapter && train { throw ValidationError("--adapter is for generation, not --train") }
    }

    private func parse(_ list: String) -> [Int]? {
        let values = list.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !values.isEmpty, values.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return values.map { $0! }
    }

    func run() throws {
        let threads = modelOptions.threadCount
        let pool = ComputePool(threads: threads)
        defer { pool.shutdown() }
        let model = try modelOptions.load(pool: pool)
        let config = model.weights.config
        let decoder = BatchDecoder(config: config, pool: pool, maxRows: 512)
        if !json { print("model \(model.name), \(threads) threads, OpenBLAS \(BLAS.coreName)") }
        if train {
            let bench = TrainBenchmark()
            let stepProfile = profile ? StepProfile() : nil
            let seconds = bench.run(model: model, pool: pool, profile: stepProfile) { if !json { print($0) } }
            let parts = (stepProfile?.seconds ?? []).map { (name: $0.part.name, seconds: $0.seconds / Double(bench.steps)) }
            let profiled = parts.map { ($0.name, $0.seconds) } + (parts.isEmpty ? [] : [("other (norms, RoPE, SwiGLU, loss, copies)", seconds - parts.map(\.seconds).reduce(0, +))])
            if json {
                let shares = profiled.map { "\"\($0.0)\":\(String(format: "%.3f", $0.1))" }.joined(separator: ",")
                print("{\"train_step_seconds\":\(String(format: "%.3f", seconds)),\"ensemble\":5,\"rank\":16,\"pairs\":16,\"prompt_tokens\":64,\"response_tokens\":96,\"threads\":\(threads)"
                      + (profiled.isEmpty ? "" : ",\"profile_seconds\":{\(shares)}") + "}")
            } else {
                print(String(format: "mean training step: %.2f s", seconds))
                for (name, s) in profiled {
                    print("  " + name.padding(toLength: 44, withPad: " ", startingAt: 0) + String(format: " %7.2f s  %5.1f %%", s, 100 * s / seconds))
                }
            }
            return
        }

        let delta: LowRankAdapter? = adapter ? Self.learnedAdapter(config) : nil
        if !json && adapter { print("with a merged adapter of rank \(delta!.rank)") }
        for p in parse(promptTokens)! {
            guard p + genTokens < config.contextLength else { throw CLIError("prompt \(p) + \(genTokens) tokens exceed the context (\(config.contextLength))") }
            // Token ids spread over the vocabulary, skipping the special tokens at the start.
            let prompt = (0..<p).map { 100 + ($0 * 7919) % (config.vocabSize - 100) }
            for s in parse(streams)! {
                var prefillSeconds = 0.0, decodeSeconds = 0.0
                for rep in 0...repetitions {   // repetition 0 warms up
                    let parameters = GenerationParameters(sampling: SamplingParameters(temperature: 1), maxTokens: genTokens + 1)
                    let sequences = try (0..<s).map { i in
                        var params = parameters
                        params.seed = UInt64(i)
                        return try GenerationSequence(prompt: prompt, parameters: params, config: config)
                    }
                    var t0 = Date()
                    // Prefill one stream's prompt alone, in steps of up to the decoder's rows (its first token is
                    // sampled in the last).
                    while sequences[0].tokens.isEmpty { try decoder.step([sequences[0]], weights: model.weights, adapter: delta) }
                    let prefill = Date().timeIntervalSince(t0)
                    for other in sequences.dropFirst() { while other.tokens.isEmpty { try decoder.step([other], weights: model.weights, adapter: delta) } }
                    t0 = Date()
                    for _ in 0..<genTokens { try decoder.step(sequences, weights: model.weights, adapter: delta) }
                    let decode = Date().timeIntervalSince(t0)
                    if rep > 0 { prefillSeconds += prefill; decodeSeconds += decode }
                }
                let prefillTPS = Double(p * repetitions) / prefillSeconds
                let decodeTPS = Double(s * genTokens * repetitions) / decodeSeconds
                if json {
                    print("{\"prompt_tokens\":\(p),\"gen_tokens\":\(genTokens),\"streams\":\(s),\"threads\":\(threads),\"adapter_rank\":\(delta?.rank ?? 0),\"prefill_tps\":\(String(format: "%.2f", prefillTPS)),\"decode_tps\":\(String(format: "%.2f", decodeTPS))}")
                } else {
                    print(String(format: "prompt %4d  streams %2d  prefill %8.1f tok/s  decode %8.1f tok/s (%d tokens/stream)", p, s, prefillTPS, decodeTPS, genTokens))
                }
            }
        }
    }

    /// A learned version's adapter: 5 members as a phase leaves them (B no longer zero), merged exactly.
    static func learnedAdapter(_ config: LlamaConfig) -> LowRankAdapter {
        let ensemble = LoRAEnsemble(layout: LoRALayout(model: config, lora: LoRAConfiguration(rank: 16)), memberCount: 5, seed: 1)
        var g = SplitMix64(seed: 2)
        for member in ensemble.members {
            for layer in 0..<config.layerCount {
                for role in LinearRole.allCases {
                    let b = member.parameters.b(layer: layer, role: role)!
                    for i in 0..<(16 * config.shape(of: role).output) { b[i] = (Float(g.next() >> 40) / Float(1 << 24) - 0.5) * 1e-3 }
                }
            }
        }
        return ensemble.merged()
    }
}
