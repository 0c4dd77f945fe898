// EngineMetrics: the engine's measurements through swift-metrics (exported as Prometheus text at /metrics):
// tokens, time to first token, queue depth, batch size and the serving policy version.

import Metrics

final class EngineMetrics: Sendable {
    private let promptTokenCounter = Counter(label: "proxima_prompt_tokens_total")
    private let generatedTokenCounter = Counter(label: "proxima_generated_tokens_total")
    private let firstToken = Metrics.Timer(label: "proxima_time_to_first_token_seconds")
    private let queue = Gauge(label: "proxima_queue_depth")
    private let batchSequences = Recorder(label: "proxima_batch_size", aggregate: true)
    private let batchSequencesNow = Gauge(label: "proxima_batch_sequences")

    func promptTokens(_ n: Int) { promptTokenCounter.increment(by: n) }
    func generatedTokens(_ n: Int) { generatedTokenCounter.increment(by: n) }
    func queueDepth(_ n: Int) { queue.record(n) }

    func timeToFirstToken(since start: ContinuousClock.Instant) {
        firstToken.recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
    }

    /// Sequences that took part in one step.
    func batch(sequences: Int) {
        batchSequences.record(sequences)
        batchSequencesNow.record(sequences)
    }

    /// The serving version as a labelled gauge set to 1.
    func policy(_ id: String) {
        Gauge(label: "proxima_serving_policy", dimensions: [("version", id)]).record(1)
    }
}
