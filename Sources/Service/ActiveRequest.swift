// ActiveRequest: one admitted request on the engine thread: its sequences (a leader and the samples that
// share its prompt), their text assembly and stop strings, and the events it still owes its client.

import Inference
import ProximaCore
import Tokenizer

final class ActiveRequest {
    let pending: PendingRequest
    let policy: ServingPolicy
    let sequences: [GenerationSequence]
    private var assemblers: [TextAssembler]
    private var reported: [Bool]
    private var firstTokenSeen = false

    var handle: EngineHandle { pending.handle }
    var isDone: Bool { reported.allSatisfy { $0 } }

    init(_ pending: PendingRequest, policy: ServingPolicy, tokenizer: BPETokenizer) throws {
        self.pending = pending
        self.policy = policy
        let config = policy.weights.config
        let prompt = pending.request.promptTokens
        let leader = try GenerationSequence(prompt: prompt, parameters: pending.request.samples[0], config: config)
        var sequences = [leader]
        for parameters in pending.request.samples.dropFirst() {
            sequences.append(try GenerationSequence(prompt: prompt, parameters: parameters, config: config, leader: leader))
        }
        self.sequences = sequences
        assemblers = sequences.map { _ in TextAssembler(tokenizer: tokenizer, stops: pending.request.stopStrings) }
        reported = sequences.map { _ in false }
    }

    /// Takes sample `index`'s newest token: streams its text, applies stop strings.
    func accept(sample index: Int, metrics: EngineMetrics) {
        let sequence = sequences[index]
        guard let token = sequence.tokens.last else { return }
        metrics.generatedTokens(1)
        if index == 0 && !firstTokenSeen {
            firstTokenSeen = true
            metrics.timeToFirstToken(since: pending.submitted)
        }
        if sequence.finishReason == .stop && sequence.parameters.stopTokens.contains(token.id) { return }
        let (delta, stopped) = assemblers[index].push(token.id)
        if stopped { sequence.stop() }
        if !delta.isEmpty && pending.request.streamedSamples.contains(index) {
            pending.continuation.yield(.text(sample: index, delta: delta))
        }
    }

    /// Reports every sample that ended since the last step; ends the stream when all have.
    func finishEndedSamples() {
        for (i, s) in sequences.enumerated() where s.isFinished && !reported[i] {
            reported[i] = true
            let tail = assemblers[i].finish()
            if !tail.isEmpty && pending.request.streamedSamples.contains(i) {
                pending.continuation.yield(.text(sample: i, delta: tail))
            }
            pending.continuation.yield(.finished(sample: i, SampleOutcome(s, assembler: assemblers[i])))
        }
        if isDone { pending.continuation.finish() }
    }
}
