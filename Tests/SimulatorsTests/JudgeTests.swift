// JudgeTests: the judge settings' forms; the LLM judge's two orders and its tie rule (a judge that prefers a
// position, not an answer, ties); the remote judge against a local OpenAI-style endpoint — log-probs, text,
// retries — and each way it can fail: refused connection, timeout, 500, malformed JSON, a 4xx.

import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import ProximaCore
import Simulators
import XCTest

final class JudgeSpecTests: XCTestCase {
    func testFormsParseAndMistakesAreOneLine() throws {
        XCTAssertEqual(try JudgeSpec(parsing: "rubric"), .rubric)
        XCTAssertEqual(try JudgeSpec(parsing: "llm:/models/judge.gguf"), .llm(path: "/models/judge.gguf"))
        XCTAssertEqual(try JudgeSpec(parsing: "remote:http://127.0.0.1:9000/v1?model=judge&timeout=5&attempts=2"),
                       .remote(base: URL(string: "http://127.0.0.1:9000/v1")!, model: "judge", timeoutSeconds: 5, attempts: 2))
        XCTAssertEqual(try JudgeSpec(parsing: "remote:https://api.example.com/v1"),
                       .remote(base: URL(string: "https://api.example.com/v1")!, model: "default", timeoutSeconds: 30, attempts: 3))
        for (bad, expected) in [("rubrik", "unknown judge 'rubrik'"), ("llm:", "needs the path"), ("remote:ftp://x", "http(s) URL"),
                                ("remote:http://h/v1?colour=red", "unknown parameter 'colour'"), ("remote:http://h?timeout=0", "timeout"),
                                ("remote:http://h?attempts=99", "attempts")] {
            XCTAssertThrowsError(try JudgeSpec(parsing: bad)) { error in
                XCTAssertTrue("\(error)".contains(expected), "\(bad): \(error)")
                XCTAssertFalse("\(error)".contains("\n"))
            }
        }
    }
}

final class LLMJudgeTests: XCTestCase {
    /// Prefers the answer containing "good" by `margin`, plus `positionBias` for whatever is shown as A.
    struct ScriptedScorer: LabelScorer {
        var margin: Double
        var positionBias: Double
        func preferenceForA(_ messages: [ChatMessage]) throws -> Double {
            let text = messages.last!.content
            let a = text.range(of: "Answer A:")!, b = text.range(of: "Answer B:")!
            let shownA = text[a.upperBound..<b.lowerBound], shownB = text[b.upperBound...]
            let quality = (shownA.contains("good") ? margin : 0) - (shownB.contains("good") ? margin : 0)
            return quality + positionBias
        }
    }

    func judge(_ scorer: ScriptedScorer, _ a: String, _ b: String) async throws -> Verdict.Choice {
        var rng = SystemRandomNumberGenerator()
        return try await LLMJudge(name: "scripted", scorer: scorer)
            .judge(prompt: "q", a: Candidate(text: a, finished: true), b: Candidate(text: b, finished: true), rng: &rng).choice
    }

    func testBothOrdersMustAgree() async throws {
        let fair = ScriptedScorer(margin: 2, positionBias: 0)
        let choiceForGoodFirst = try await judge(fair, "a good answer", "a bad one")
        XCTAssertEqual(choiceForGoodFirst, .a)
        let choiceForGoodSecond = try await judge(fair, "a bad one", "a good answer")
        XCTAssertEqual(choiceForGoodSecond, .b)
        // A bias towards position A smaller than the preference still lets the answer win in both orders...
        let mildlyBiased = try await judge(ScriptedScorer(margin: 2, positionBias: 1), "a bad one", "a good answer")
        XCTAssertEqual(mildlyBiased, .b)
        // ...a larger one makes the orders disagree: a tie, never a label for the position.
        let biased = ScriptedScorer(margin: 1, positionBias: 3)
        let firstOrder = try await judge(biased, "a good answer", "a bad one")
        let secondOrder = try await judge(biased, "a bad one", "a good answer")
        XCTAssertEqual(firstOrder, .tie)
        XCTAssertEqual(secondOrder, .tie)
        let undecided = try await judge(fair, "same", "same")
        XCTAssertEqual(undecided, .tie)
    }

    func testTheQuestionShowsBothAnswersInBothOrdersAndSaysWhichWasCut() async throws {
        final class Recorder: LabelScorer, @unchecked Sendable {
            private let lock = NSLock()
            private var seen: [String] = []
            var questions: [String] { lock.withLock { seen } }
            func preferenceForA(_ messages: [ChatMessage]) throws -> Double {
                lock.withLock { seen.append(messages.last!.content) }
                return 1
            }
        }
        let recorder = Recorder()
        var rng = SystemRandomNumberGenerator()
        let verdict = try await LLMJudge(name: "r", scorer: recorder)
            .judge(prompt: "Name a colour.", a: Candidate(text: "Blue.", finished: true), b: Candidate(text: "Red and", finished: false), rng: &rng)
        XCTAssertEqual(verdict.choice, .tie, "always preferring A is a position bias")
        XCTAssertEqual(recorder.questions.count, 2)
        XCTAssertTrue(recorder.questions[0].contains("Name a colour.\n\nAnswer A:\nBlue.\n\nAnswer B:\nRed and [cut off]"), recorder.questions[0])
        XCTAssertTrue(recorder.questions[1].contains("Answer A:\nRed and [cut off]\n\nAnswer B:\nBlue."), recorder.questions[1])
    }
}

final class RemoteJudgeTests: XCTestCase {
    /// A local OpenAI-style endpoint: under /<mode>/chat/completions it answers for the answer containing
    /// "good" with log-probs (`logprobs`), with text only (`text`), after one 500 (`flaky`), or it fails
    /// (`fail500`, `garbage`, `unauthorised`, `slow`).
    private func withEndpoint(_ body: @Sendable (Int) async throws -> Void) async throws {
        let calls = Calls()
        let router = Router()
        router.post("/:mode/chat/completions") { request, context -> Response in
            let mode = context.parameters.get("mode") ?? ""
            let buffer = try await request.body.collect(upTo: 1 << 20)
            let json = try JSONSerialization.jsonObject(with: Data(buffer: buffer)) as! [String: Any]
            let messages = json["messages"] as! [[String: String]]
            let text = messages.last!["content"]!
            let a = text.range(of: "Answer A:")!, b = text.range(of: "Answer B:")!
            let goodIsA = text[a.upperBound..<b.lowerBound].contains("good")
            func respond(_ status: HTTPResponse.Status, _ body: String) -> Response {
                Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: body)))
            }
            let count = await calls.next(mode)
            switch mode {
            case "logprobs", "flaky" where mode == "logprobs" || count > 1:
                let (pa, pb) = goodIsA ? (-0.1, -2.5) : (-2.5, -0.1)
                return respond(.ok, """
                    {"choices": [{"message": {"role": "assistant", "content": "\(goodIsA ? "A" : "B")"},
                      "logprobs": {"content": [{"token": "\(goodIsA ? "A" : "B")", "logprob": \(max(pa, pb)),
                        "top_logprobs": [{"token": "A", "logprob": \(pa)}, {"token": " B", "logprob": \(pb)}, {"token": "C", "logprob": -5}]}]}}]}
                    """)
            case "flaky": return respond(.internalServerError, #"{"error": {"message": "busy"}}"#)
            case "text": return respond(.ok, #"{"choices": [{"message": {"role": "assistant", "content": " \#(goodIsA ? "A" : "B")."}}]}"#)
            case "fail500": return respond(.internalServerError, #"{"error": {"message": "down"}}"#)
            case "garbage": return respond(.ok, "{not json")
            case "unauthorised": return respond(.unauthorized, #"{"error": {"message": "bad key"}}"#)
            default:
                try await Task.sleep(for: .seconds(3))
                return respond(.ok, "{}")
            }
        }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in try await body(client.port!) }
    }

    actor Calls {
        var counts: [String: Int] = [:]
        func next(_ mode: String) -> Int { counts[mode, default: 0] += 1; return counts[mode]! }
    }

    private static func judge(_ base: String, timeout: Double = 10, attempts: Int = 3) -> RemoteJudge {
        var j = RemoteJudge(base: URL(string: base)!, model: "judge", timeoutSeconds: timeout, attempts: attempts, apiKey: "k")
        j.backoffSeconds = 0.01
        return j
    }

    private static func verdict(_ j: RemoteJudge, goodFirst: Bool) async throws -> Verdict.Choice {
        var rng = SystemRandomNumberGenerator()
        let good = Candidate(text: "a good answer", finished: true), bad = Candidate(text: "a bad one", finished: true)
        return try await j.judge(prompt: "q", a: goodFirst ? good : bad, b: goodFirst ? bad : good, rng: &rng).choice
    }

    func testLogprobsTextAndRetriesGiveTheVerdict() async throws {
        try await withEndpoint { port in
            for mode in ["logprobs", "text", "flaky"] {
                let j = Self.judge("http://127.0.0.1:\(port)/\(mode)")
                let first = try await Self.verdict(j, goodFirst: true)
                let second = try await Self.verdict(j, goodFirst: false)
                XCTAssertEqual(first, .a, mode)
                XCTAssertEqual(second, .b, mode)
            }
        }
    }

    func testEveryFailureIsAClearErrorAndNoVerdict() async throws {
        try await withEndpoint { port in
            let cases: [(String, Double, String)] = [
                ("http://127.0.0.1:\(port)/fail500", 10, "failed 3 times: HTTP 500"),
                ("http://127.0.0.1:\(port)/garbage", 10, "failed 3 times: a reply that is not a chat completion"),
                ("http://127.0.0.1:\(port)/unauthorised", 10, "HTTP 401"),
                ("http://127.0.0.1:\(port)/slow", 0.3, "timed out"),
                ("http://127.0.0.1:1/v1", 10, "failed 3 times: connection refused"),
            ]
            for (base, timeout, expected) in cases {
                do {
                    _ = try await Self.verdict(Self.judge(base, timeout: timeout), goodFirst: true)
                    XCTFail("\(base) gave a verdict")
                } catch let error as RemoteJudgeError {
                    XCTAssertTrue(error.description.contains(expected), "\(base): \(error)")
                    XCTAssertTrue(error.description.hasPrefix("remote judge \(base)"), "\(error)")
                }
            }
        }
    }
}
