// FuzzRunner: the loop — seeds and kept regressions first, then mutations of a working corpus that grows with
// accepted inputs (a cheap stand-in for coverage: an input a parser accepts got further than one it refused).
// The input being run is published to `CurrentInput`, which the fuzz executable's crash handler writes out.

import Foundation
import Synchronization

/// The input running now (for a crash handler) and when it started (for a hang watchdog).
public enum CurrentInput {
    nonisolated(unsafe) public static var bytes: UnsafeMutableBufferPointer<UInt8> = .allocate(capacity: 1 << 20)
    nonisolated(unsafe) public static var count = 0
    public static let startedNanoseconds = Atomic<UInt64>(0)
    /// What `startedNanoseconds` is measured with (a hang watchdog sets a clock of CPU time).
    nonisolated(unsafe) public static var clock: @Sendable () -> UInt64 = { DispatchTime.now().uptimeNanoseconds }

    static func publish(_ input: [UInt8]) {
        count = 0
        if input.count > bytes.count {
            bytes.deallocate()
            bytes = .allocate(capacity: input.count)
        }
        _ = bytes.initialize(from: input)
        count = input.count
        startedNanoseconds.store(clock(), ordering: .relaxed)
    }

    static func finished() { startedNanoseconds.store(0, ordering: .relaxed) }
}

public struct FuzzReport: Sendable {
    public var runs = 0
    public var accepted = 0
    public var corpus = 0
    public var seconds = 0.0
    public var findings: [(input: [UInt8], finding: String)] = []
}

public enum FuzzRunner {
    /// Runs the seeds, the kept regressions and `runs` mutated inputs of `target`. Findings of the target's
    /// promises are collected (crashes end the process; the executable's handler keeps the input).
    public static func run(_ target: any FuzzTarget, runs: Int, seed: UInt64,
                           progress: (@Sendable (FuzzReport) -> Void)? = nil) async throws -> FuzzReport {
        let seeds = try target.seeds()
        let kept = FuzzTargets.regressionInputs(of: target.name).map(\.bytes)
        let state = Mutex(FuzzReport())
        let started = Date()
        try await target.session { check in
            var mutator = Mutator(seed: seed, dictionary: target.dictionary, maxSize: target.maxSize)
            var corpus = seeds
            func one(_ input: [UInt8]) async {
                CurrentInput.publish(input)
                let outcome: Result<FuzzOutcome, any Error>
                do { outcome = .success(try await check(input)) } catch { outcome = .failure(error) }
                CurrentInput.finished()
                state.withLock { report in
                    report.runs += 1
                    switch outcome {
                    case .success(.accepted):
                        report.accepted += 1
                        if corpus.count < 512 { corpus.append(input) } else { corpus[mutator.below(corpus.count)] = input }
                    case .success(.refused): break
                    case .failure(let error): report.findings.append((input, "\(error)"))
                    }
                    report.corpus = corpus.count
                    if report.runs % 10_000 == 0 {
                        report.seconds = Date().timeIntervalSince(started)
                        progress?(report)
                    }
                }
            }
            for input in seeds + kept { await one(input) }
            for _ in 0..<runs {
                await one(mutator.mutate(corpus[mutator.below(corpus.count)], corpus: corpus))
            }
        }
        var report = state.withLock { $0 }
        report.seconds = Date().timeIntervalSince(started)
        return report
    }
}
