// PairwiseJudgePrompt: the question an LLM judge is asked, and the rule that turns its two answers (one per
// order of the candidates) into a verdict. Both the local and the remote judge use it, so they ask the same
// thing and decide the same way.

import ProximaCore

enum PairwiseJudgePrompt {
    static let system = "You compare two answers to a user's message and say which one is better: more helpful, correct, "
        + "complete and to the point. Reply with a single letter: A or B."
    /// Longer answers are cut to this many characters (the judge's context is finite; the start decides most).
    static let maxAnswerCharacters = 3000

    /// The messages asking which of `first` (A) and `second` (B) better answers `prompt`.
    static func messages(prompt: String, first: Candidate, second: Candidate) -> [ChatMessage] {
        func show(_ c: Candidate) -> String {
            let text = c.text.count > maxAnswerCharacters ? String(c.text.prefix(maxAnswerCharacters)) + " […]" : c.text
            return c.finished ? text : text + " [cut off]"
        }
        let user = "User's message:\n\(prompt)\n\nAnswer A:\n\(show(first))\n\nAnswer B:\n\(show(second))\n\n"
            + "Which answer is better, A or B? Reply with one letter."
        return [ChatMessage(role: "system", content: system), ChatMessage(role: "user", content: user)]
    }

    /// The verdict from each order's preference for its first answer (`forward`: a shown first, > 0 prefers a;
    /// `swapped`: b shown first, > 0 prefers b; nil: that order gave no answer). The orders must agree, else tie.
    static func verdict(forward: Double?, swapped: Double?) -> Verdict {
        let scores = Verdict.Scores(a: ((forward ?? 0) - (swapped ?? 0)) / 2, b: ((swapped ?? 0) - (forward ?? 0)) / 2)
        guard let f = forward, let s = swapped else { return Verdict(choice: .tie, scores: scores) }
        if f > 0 && s < 0 { return Verdict(choice: .a, scores: scores) }
        if f < 0 && s > 0 { return Verdict(choice: .b, scores: scores) }
        return Verdict(choice: .tie, scores: scores)
    }
}
