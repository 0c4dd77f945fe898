// EngineService: the one owner of model state. A dedicated thread runs continuous batching over all active
// requests (decode rows plus chunked prefill each step); HTTP handlers submit through a bounded queue and
// read an event stream. Requests stay on the policy version they were admitted with.

import Foundation
import Inference
import Llama
import Logging
import Metrics
import ProximaNumerics
import ServiceLifecycle
import Synchronization
import Tokenizer

/// What the chat service needs of an engine: the port `EngineService` implements (and `ScriptedEngine`, its
/// twin for tests).
public protocol ChatEngine: Sendable {
    /// The version new requests are pinned to.
    var policy: ServingPolicy { get }
    /// Serves `policy` to requests admitted from now on; requests in flight finish on theirs.
    func setPolicy(_ policy: ServingPolicy)
    /// Queues a request. Throws `.overloaded` when the queue is full and `.shuttingDown` after shutdown began.
    func submit(_ request: EngineRequest) throws(EngineError) -> EngineHandle
}

/// A submitted request: its events, and a way to stop it (the client went away).
public final class EngineHandle: Sendable {
    public let events: AsyncStream<EngineEvent>
    let cancelled = Atomic<Bool>(false)
    private let wake: @Sendable () -> Void

    /// `wake` runs once when the request is cancelled (the engine stops generating for it).
    public init(events: AsyncStream<EngineEvent>, wake: @escaping @Sendable () -> Void) {
        self.events = events
        self.wake = wake
    }

    /// Stops generation; the stream ends with the samples finished as `.cancelled`.
    public func cancel() {
        if !cancelled.exchange(true, ordering: .relaxed) { wake() }
    }
}

/// Continuous batching on one model, behind a bounded queue.
public final class EngineService: ChatEngine, Service, @unchecked Sendable {
    public let tokenizer: BPETokenizer
    public let configuration: EngineConfiguration
    private let pool: ComputePool
    private let decoder: BatchDecoder
    private let prefixCache: PrefixCache
    private let logger: Logger
    private let metrics: EngineMetrics

    // Shared with submitters, guarded by `condition`.
    private let condition = NSCondition()
    private var inbox: [PendingRequest] = []
    private var waitingCount = 0
    private var stopping = false
    private var servingPolicy: ServingPolicy

    // Engine thread only.
    private var queue: [PendingRequest] = []
    private var active: [ActiveRequest] = []

    /// The cores, shared with the learner; the engine takes them for every step.
    public let lease: ComputeLease

    /// `metricsFactory` makes the engine's metrics (the global `MetricsSystem.factory` when nil; tests pass
    /// their own so that no global bootstrap is needed).
    public init(policy: ServingPolicy, tokenizer: BPETokenizer, pool: ComputePool, lease: ComputeLease,
                configuration: EngineConfiguration, logger: Logger, metricsFactory: (any MetricsFactory)? = nil) {
        metrics = EngineMetrics(factory: metricsFactory)
        servingPolicy = policy
        self.lease = lease
        self.tokenizer = tokenizer
        self.pool = pool
        self.configuration = configuration
        self.logger = logger
        decoder = BatchDecoder(config: policy.weights.config, pool: pool,
                               maxRows: configuration.maxActiveSequences + configuration.prefillChunk)
        prefixCache = PrefixCache(maxPositions: configuration.prefixCacheTokens)
        metrics.policy(policy.id)
    }

    // MARK: - Submitting

    /// The version new requests are pinned to.
    public var policy: ServingPolicy {
        condition.lock(); defer { condition.unlock() }
        return servingPolicy
    }

    /// Serves `policy` to requests admitted from now on; requests in flight finish on theirs.
    public func setPolicy(_ policy: ServingPolicy) {
        condition.lock()
        servingPolicy = policy
        condition.unlock()
        metrics.policy(policy.id)
        logger.info("serving policy \(policy.id)")
    }

    /// Queues a request. Throws `.overloaded` when the queue is full and `.shuttingDown` after shutdown began.
    public func submit(_ request: EngineRequest) throws(EngineError) -> EngineHandle {
        precondition(!request.samples.isEmpty && request.samples.count <= configuration.maxActiveSequences)
        let (stream, continuation) = AsyncStream<EngineEvent>.makeStream()
        let handle = EngineHandle(events: stream) { [weak self] in self?.signal() }
        // The consumer stopped listening (its task was cancelled or it dropped the stream): stop generating.
        continuation.onTermination = { [weak handle] termination in
            if case .cancelled = termination { handle?.cancel() }
        }
        condition.lock(); defer { condition.unlock() }
        if stopping { throw .shuttingDown }
        if waitingCount >= configuration.maxQueuedRequests { throw .overloaded(retryAfterSeconds: 1) }
        inbox.append(PendingRequest(request: request, handle: handle, continuation: continuation, submitted: .now))
        waitingCount += 1
        metrics.queueDepth(waitingCount)
        condition.signal()
        return handle
    }

    private func signal() {
        condition.lock(); condition.signal(); condition.unlock()
    }

    // MARK: - Service

    /// Runs the engine thread until graceful shutdown; then refuses new requests, finishes those in flight.
    public func run() async throws {
        let thread = Thread { [self] in loop() }
        thread.name = "proxima-engine"
        thread.stackSize = 8 << 20
        let done = AsyncStream<Void>.makeStream()
        finished = done.continuation
        thread.start()
        await withGracefulShutdownHandler {
            for await _ in done.stream {}
        } onGracefulShutdown: { [self] in
            beginStopping()
        }
        if Task.isCancelled {
            beginStopping()
            for await _ in done.stream {}
        }
    }

    /// Refuses new requests; the thread exits once those in flight are done.
    private func beginStopping() {
        condition.lock(); stopping = true; condition.signal(); condition.unlock()
    }

    private var finished: AsyncStream<Void>.Continuation?

    // MARK: - The engine thread

    private func loop() {
        var busy = false
        while true {
            let hasWork = !queue.isEmpty || !active.isEmpty
            if hasWork != busy { busy = hasWork; lease.setServingBusy(hasWork) }
            condition.lock()
            while inbox.isEmpty && queue.isEmpty && active.isEmpty && !stopping { condition.wait() }
            let arrived = inbox
            inbox.removeAll()
            let exit = stopping && arrived.isEmpty && queue.isEmpty && active.isEmpty
            let policy = servingPolicy
            condition.unlock()
            if exit { break }   // with no work left, so the lease already knows serving is idle
            queue += arrived
            dropCancelledWaiting()
            admit(policy: policy)
            if !active.isEmpty { step() }
        }
        finished?.finish()
    }

    private func dropCancelledWaiting() {
        let gone = queue.filter { $0.handle.cancelled.load(ordering: .relaxed) }
        guard !gone.isEmpty else { return }
        queue.removeAll { $0.handle.cancelled.load(ordering: .relaxed) }
        for request in gone { request.continuation.finish() }
        updateWaiting(-gone.count)
    }

    private func admit(policy: ServingPolicy) {
        var running = active.reduce(0) { $0 + $1.sequences.count }
        while let next = queue.first, running + next.request.samples.count <= configuration.maxActiveSequences {
            queue.removeFirst()
            updateWaiting(-1)
            do {
                let policy = next.request.policy ?? policy
                let request = try ActiveRequest(next, policy: policy, tokenizer: tokenizer)
                active.append(request)
                running += request.sequences.count
                next.continuation.yield(.admitted(policyVersion: policy.id))
                let reused = prefixCache.reuse(for: request.sequences[0], owner: policy.id)
                metrics.promptTokens(next.request.promptTokens.count)
                metrics.cachedPromptTokens(reused)
            } catch {
                logger.error("refused request: \(error)")
                next.continuation.finish()
            }
        }
    }

    private func updateWaiting(_ delta: Int) {
        condition.lock()
        waitingCount += delta
        let depth = waitingCount
        condition.unlock()
        metrics.queueDepth(depth)
    }

    /// One batched step per policy version in use, then the results go out as events.
    private func step() {
        lease.acquireForServing()
        defer { lease.release() }
        for request in active where request.handle.cancelled.load(ordering: .relaxed) {
            request.sequences.forEach { $0.cancel() }
        }
        var byPolicy: [ObjectIdentifier: (ServingPolicy, [GenerationSequence])] = [:]
        for request in active where !request.isDone {
            byPolicy[ObjectIdentifier(request.policy), default: (request.policy, [])].1 += request.sequences
        }
        var owner: [ObjectIdentifier: (ActiveRequest, Int)] = [:]
        for request in active {
            for (i, s) in request.sequences.enumerated() { owner[ObjectIdentifier(s)] = (request, i) }
        }
        for (policy, sequences) in byPolicy.values {
            do {
                let running = sequences.filter { !$0.isFinished }.count
                let updated = try decoder.step(sequences, weights: policy.weights, adapter: policy.adapter,
                                               prefillBudget: configuration.prefillChunk)
                metrics.batch(sequences: running)
                for s in updated {
                    let (request, index) = owner[ObjectIdentifier(s)]!
                    request.accept(sample: index, metrics: metrics)
                    if s.leader == nil && s.tokens.count == 1 { prefixCache.store(s, owner: policy.id) }
                }
            } catch {
                logger.error("sampling failed, cancelling \(sequences.count) sequences: \(error)")
                sequences.forEach { $0.cancel() }
            }
        }
        for request in active { request.finishEndedSamples() }
        active.removeAll { $0.isDone }
        metrics.activeSequences(active.reduce(0) { $0 + $1.sequences.count })
    }
}

/// A request waiting for slots.
struct PendingRequest {
    var request: EngineRequest
    var handle: EngineHandle
    var continuation: AsyncStream<EngineEvent>.Continuation
    var submitted: ContinuousClock.Instant
}
