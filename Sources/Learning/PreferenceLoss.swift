// PreferenceLoss: the direct-alignment losses of METHOD.md — the pairwise ones on one pair's sequence log-probs
// (DPO in its softplus form, IPO on length-normalised log-probs, SLiC's hinge) and KTO on single desirable or
// undesirable responses (Ethayarajh et al. 2024) — with their derivatives for the backward pass.

import Llama
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which direct-alignment loss to train with.
public enum PreferenceLoss: String, Codable, Sendable, CaseIterable {
    case dpo, ipo, slic, kto

    /// Whether the loss compares the two responses of a pair (KTO rates each response on its own).
    public var isPairwise: Bool { self != .kto }
}

/// The loss of one pair and its derivatives with respect to the policy's two log-probs.
public struct PairLoss: Sendable, Equatable {
    public var loss: Double
    public var dChosen: Double
    public var dRejected: Double
    /// h = (log π_w − log ref_w) − (log π_l − log ref_l) (length-normalised for IPO).
    public var logit: Double
}

extension PreferenceLoss {
    /// Evaluates a pairwise loss for policy log-probs `policy` against reference log-probs `reference`.
    public func evaluate(policy: PairLogProbs, reference: PairLogProbs, beta: Double) -> PairLoss {
        switch self {
        case .dpo:
            let h = (policy.chosen - reference.chosen) - (policy.rejected - reference.rejected)
            // L = −log σ(βh) = softplus(−βh); dL/dh = −β σ(−βh)
            let g = -beta * sigmoid(-beta * h)
            return PairLoss(loss: softplus(-beta * h), dChosen: g, dRejected: -g, logit: h)
        case .ipo:
            let nw = Double(max(policy.chosenTokens, 1)), nl = Double(max(policy.rejectedTokens, 1))
            let h = (policy.chosen - reference.chosen) / nw - (policy.rejected - reference.rejected) / nl
            let e = h - 1 / (2 * beta)
            return PairLoss(loss: e * e, dChosen: 2 * e / nw, dRejected: -2 * e / nl, logit: h)
        case .slic:
            let h = (policy.chosen - reference.chosen) - (policy.rejected - reference.rejected)
            let margin = 1 - beta * h
            return margin > 0
                ? PairLoss(loss: margin, dChosen: -beta, dRejected: beta, logit: h)
                : PairLoss(loss: 0, dChosen: 0, dRejected: 0, logit: h)
        case .kto:
            preconditionFailure("KTO is not a pairwise loss: use KTOLoss")
        }
    }
}

/// log(1 + e^x) without overflow.
@inline(__always) func softplus(_ x: Double) -> Double { x > 0 ? x + log1p(exp(-x)) : log1p(exp(x)) }

@inline(__always) func sigmoid(_ x: Double) -> Double { x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x)) }
