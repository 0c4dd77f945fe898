// PairExport: labelled pairs as JSON lines in TRL's conversational preference format (prompt, chosen and
// rejected as message lists) plus what BPO needs to train on them elsewhere or later: the token ids and the
// behavior log-probs of both responses, the version that sampled them and who labelled them.

import Foundation
import Learning
import ProximaCore

/// One exported pair (one JSON line).
public struct ExportedPair: Codable, Sendable, Equatable {
    public var prompt: [ChatMessage]
    public var chosen: [ChatMessage]
    public var rejected: [ChatMessage]
    public var promptTokenIDs: [Int]
    public var chosenTokenIDs: [Int]
    public var rejectedTokenIDs: [Int]
    public var chosenLogprobs: [Float]
    public var rejectedLogprobs: [Float]
    public var policyVersion: String
    public var source: String
    public var requestID: String?
    public var pairID: String?

    enum CodingKeys: String, CodingKey {
        case prompt, chosen, rejected, source
        case promptTokenIDs = "prompt_token_ids", chosenTokenIDs = "chosen_token_ids", rejectedTokenIDs = "rejected_token_ids"
        case chosenLogprobs = "chosen_logprobs", rejectedLogprobs = "rejected_logprobs", policyVersion = "policy_version"
        case requestID = "request_id", pairID = "pair_id"
    }

    public init(_ pair: LabelledPair) {
        prompt = pair.messages
        chosen = [ChatMessage(role: "assistant", content: pair.chosen.text)]
        rejected = [ChatMessage(role: "assistant", content: pair.rejected.text)]
        promptTokenIDs = pair.promptTokenIDs
        chosenTokenIDs = pair.chosen.tokenIDs
        rejectedTokenIDs = pair.rejected.tokenIDs
        chosenLogprobs = pair.chosen.logprobs
        rejectedLogprobs = pair.rejected.logprobs
        policyVersion = pair.policyVersion
        source = pair.source.rawValue
        requestID = pair.requestID
        pairID = pair.pairID
    }

    /// The pair's identity: 32 hex digits from its prompt and both responses' token ids (which response won is
    /// part of it; log-probs, texts and provenance are not). The same pair imported twice has the same one.
    public var identity: String {
        var bytes: [UInt8] = []
        for list in [promptTokenIDs, chosenTokenIDs, rejectedTokenIDs] {
            withUnsafeBytes(of: UInt32(list.count).littleEndian) { bytes += $0 }
            for id in list { withUnsafeBytes(of: Int32(truncatingIfNeeded: id).littleEndian) { bytes += $0 } }
        }
        // Two FNV-1a 64-bit hashes with different offsets: a stable identity, not a cryptographic digest.
        func fnv(_ offset: UInt64) -> UInt64 { bytes.reduce(offset) { ($0 ^ UInt64($1)) &* 0x100000001b3 } }
        return [fnv(0xcbf29ce484222325), fnv(0x84222325cbf29ce4)].map { String($0, radix: 16).leftPadded(to: 16) }.joined()
    }

    /// Whether the prompt and both responses have tokens and every response token its log-prob.
    public var isWellFormed: Bool {
        !promptTokenIDs.isEmpty && !chosenTokenIDs.isEmpty && !rejectedTokenIDs.isEmpty
            && chosenLogprobs.count == chosenTokenIDs.count && rejectedLogprobs.count == rejectedTokenIDs.count
    }

    /// The training example (nil when the pair is not well formed or does not fit in `contextLength`).
    public func example(contextLength: Int) -> TrainingExample? {
        TrainingExample(prompt: promptTokenIDs, chosen: chosenTokenIDs, chosenLogprobs: chosenLogprobs,
                        rejected: rejectedTokenIDs, rejectedLogprobs: rejectedLogprobs, contextLength: contextLength)
    }

    /// JSON lines, one pair per line.
    public static func jsonLines(_ pairs: [ExportedPair]) throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        var out = Data()
        for p in pairs { out += try encoder.encode(p) + Data("\n".utf8) }
        return out
    }

    /// Parses JSON lines; `source` names the input in errors.
    public static func parse(_ data: Data, source: String) throws -> [ExportedPair] {
        var pairs: [ExportedPair] = []
        for (i, line) in data.split(separator: UInt8(ascii: "\n")).enumerated() where !line.allSatisfy({ $0 == 32 || $0 == 13 }) {
            do { pairs.append(try JSONDecoder().decode(ExportedPair.self, from: Data(line))) } catch {
                throw PairImportError(message: "\(source):\(i + 1): not an exported pair (\(error))")
            }
        }
        return pairs
    }
}

public struct PairImportError: Error, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension LabelledPair {
    /// What the learner trains on (nil when the pair is not well formed or does not fit in `contextLength`).
    public func example(contextLength: Int) -> TrainingExample? {
        TrainingExample(prompt: promptTokenIDs, chosen: chosen.tokenIDs, chosenLogprobs: chosen.logprobs,
                        rejected: rejected.tokenIDs, rejectedLogprobs: rejected.logprobs, contextLength: contextLength)
    }
}

private extension String {
    func leftPadded(to length: Int) -> String { String(repeating: "0", count: max(0, length - count)) + self }
}
