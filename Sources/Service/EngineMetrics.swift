// EngineMetrics: the engine's measurements through swift-metrics (exported as Prometheus text at /metrics):
// tokens, time to first token, queue depth, batch size, active sequences and the serving policy version.

import Metrics
import Synchronization

final class EngineMetrics: Sendable {
    private let factory: any MetricsFactory
    private let promptTokenCounter: Counter
    private let cachedPromptTokenCounter: Counter
    private let generatedTokenCounter: Counter
    private let firstToken: Metrics.Timer
    private let queue: Gauge
    private let batchSequences: Recorder
    private let batchSequencesNow: Gauge
    private let activeSequenceGauge: Gauge
    private let servedPolicy = Mutex<String?>(nil)

    /// Metrics made by `factory` (the global `MetricsSystem.factory` when nil).
    init(factory: (any MetricsFactory)? = nil) {
        let factory = factory ?? MetricsSystem.factory
        self.factory = factory
        promptTokenCounter = Counter(label: "proxima_prompt_tokens_total", factory: factory)
        generatedTokenCounter = Counter(label: "proxima_generated_tokens_total", factory: factory)
        cachedPromptTokenCounter = Counter(label: "proxima_prompt_cached_tokens_total", factory: factory)
        firstToken = Metrics.Timer(label: "proxima_time_to_first_token_seconds", dimensions: [], factory: factory)
        queue = Gauge(label: "proxima_queue_depth", factory: factory)
        batchSequences = Recorder(label: "proxima_batch_size", dimensions: [], aggregate: true, factory: factory)
        batchSequencesNow = Gauge(label: "proxima_batch_sequences", factory: factory)
        activeSequenceGauge = Gauge(label: "proxima_active_sequences", factory: factory)
    }

    func promptTokens(_ n: Int) { promptTokenCounter.increment(by: n) }
    /// Prompt tokens taken from the prefix cache instead of prefilled.
    func cachedPromptTokens(_ n: Int) { cachedPromptTokenCounter.increment(by: n) }
    func generatedTokens(_ n: Int) { generatedTokenCounter.increment(by: n) }
    func queueDepth(_ n: Int) { queue.record(n) }
    /// Sequences holding a slot (prefilling or decoding).
    func activeSequences(_ n: Int) { activeSequenceGauge.record(n) }

    func timeToFirstToken(since start: ContinuousClock.Instant) {
        firstToken.recordNanoseconds(Int64((ContinuousClock.now - start) / .nanoseconds(1)))
    }

    /// Sequences that took part in one step.
    func batch(sequences: Int) {
        batchSequences.record(sequences)
        batchSequencesNow.record(sequences)
    }

    /// The serving version as a labelled gauge: 1 for the version serving now, 0 for the one it replaced.
    func policy(_ id: String) {
        let previous = servedPolicy.withLock { served in
            defer { served = id }
            return served
        }
        if let previous, previous != id {
            Gauge(label: "proxima_serving_policy", dimensions: [("version", previous)], factory: factory).record(0)
        }
        Gauge(label: "proxima_serving_policy", dimensions: [("version", id)], factory: factory).record(1)
    }
}
