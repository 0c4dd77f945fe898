// KTOLoss: Kahneman–Tversky optimisation (Ethayarajh et al. 2024, METHOD.md) on single responses, each
// desirable (a thumb up, a pair's chosen) or undesirable (a thumb down, a pair's rejected):
//
//     r   = log π_θ(y|x) − log π_ref(y|x)
//     z₀  = max(0, batch estimate of KL(π_θ ‖ π_ref)), held constant (no gradient)
//     v   = λ_D·σ(β(r − z₀)) if desirable,  λ_U·σ(β(z₀ − r)) if undesirable
//     L   = λ_y − v        (the batch loss is the mean)
//
// Pure: the trainer supplies the log-probs and the estimate of z₀.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum KTOLoss {
    /// One response's loss, dL/d(log π_θ), and its implicit reward relative to the reference point, r − z₀.
    public struct Term: Sendable, Equatable {
        public var loss: Double
        public var dPolicy: Double
        public var reward: Double
    }

    public static func evaluate(policy: Double, reference: Double, desirable: Bool, referencePoint z0: Double, beta: Double,
                                desirableWeight: Double, undesirableWeight: Double) -> Term {
        let r = policy - reference
        if desirable {
            // v = λ_D σ(β(r − z₀)); dL/dr = −λ_D β σ(1 − σ)
            let s = sigmoid(beta * (r - z0))
            return Term(loss: desirableWeight * (1 - s), dPolicy: -desirableWeight * beta * s * (1 - s), reward: r - z0)
        }
        // v = λ_U σ(β(z₀ − r)); dL/dr = +λ_U β σ(1 − σ)
        let s = sigmoid(beta * (z0 - r))
        return Term(loss: undesirableWeight * (1 - s), dPolicy: undesirableWeight * beta * s * (1 - s), reward: r - z0)
    }

    /// z₀ from log-probs of the same responses under the policy and the reference: max(0, mean(policy − reference));
    /// 0 for none.
    public static func referencePoint(policy: [Double], reference: [Double]) -> Double {
        precondition(policy.count == reference.count)
        guard !policy.isEmpty else { return 0 }
        return max(0, zip(policy, reference).map { $0 - $1 }.reduce(0, +) / Double(policy.count))
    }
}
