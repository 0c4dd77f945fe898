// StepProfile: where a training step's time goes, by kind of work. Wall time on the calling thread, so work
// the pool spreads over its threads counts once. Off unless a caller passes one (`proxima bench --train
// --profile`): the passes take `StepProfile?` and time nothing when it is nil.

#if canImport(Glibc)
import Glibc
#endif

public final class StepProfile: @unchecked Sendable {
    /// The kinds of work, forward then backward; what no part names (norms, RoPE, SwiGLU, embedding rows,
    /// the loss) is the step's time minus their sum.
    public enum Part: Int, CaseIterable, Sendable {
        case linearForward, loraForward, attentionForward, headForward, softmax
        case headBackward, linearBackward, loraBackward, attentionBackward, optimizer

        public var name: String {
            switch self {
            case .linearForward: "base linear layers, forward (sgemm)"
            case .loraForward: "LoRA factors, forward (thin sgemm)"
            case .attentionForward: "attention, forward"
            case .headForward: "output head, forward (sgemm)"
            case .softmax: "log-softmax over the vocabulary"
            case .headBackward: "output head, backward (sgemm)"
            case .linearBackward: "base linear layers, backward dX (sgemm)"
            case .loraBackward: "LoRA factors, backward (thin sgemm)"
            case .attentionBackward: "attention, backward"
            case .optimizer: "gradient clip and AdamW"
            }
        }
    }

    private var nanoseconds = [UInt64](repeating: 0, count: Part.allCases.count)

    public init() {}

    /// Runs `body`, adding its wall time to `part`.
    @inline(__always) public func time<T>(_ part: Part, _ body: () throws -> T) rethrows -> T {
        let t0 = Self.now()
        defer { nanoseconds[part.rawValue] &+= Self.now() &- t0 }
        return try body()
    }

    /// Seconds spent in each part since the last `reset`.
    public var seconds: [(part: Part, seconds: Double)] { Part.allCases.map { ($0, Double(nanoseconds[$0.rawValue]) / 1e9) } }

    public func reset() { nanoseconds = nanoseconds.map { _ in 0 } }

    @inline(__always) static func now() -> UInt64 {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return UInt64(t.tv_sec) &* 1_000_000_000 &+ UInt64(t.tv_nsec)
    }
}

/// `body` timed under `part` when there is a profile, else just run.
@inline(__always) public func timed<T>(_ profile: StepProfile?, _ part: StepProfile.Part, _ body: () throws -> T) rethrows -> T {
    if let profile { return try profile.time(part, body) }
    return try body()
}
