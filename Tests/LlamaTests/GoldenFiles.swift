// GoldenFiles: reads the reference generations in ../shared/golden (PyTorch fp32, llama.cpp) and the real
// default model once for all tests in this target.

import Foundation
import Inference
import ModelFiles
import ProximaCore
import ProximaNumerics
import TestSupport
import Tokenizer

/// One golden case: the chat, its prompt ids, a greedy continuation and per-position log-probs.
struct GoldenCase {
    var messages: [ChatMessage]
    var promptText: String
    var promptIDs: [Int]
    var greedyIDs: [Int]
    /// Per position: the chosen token's log-prob and the top five (id, log-prob).
    var logprobs: [Double]
    var top5: [[(id: Int, logprob: Double)]]
}

enum GoldenFiles {
    static func cases(_ file: String) throws -> [GoldenCase] {
        let root = try TestPaths.json(TestPaths.golden(file)) as! [String: Any]
        return (root["cases"] as! [[String: Any]]).map { c in
            let positions = c["per_position"] as! [[String: Any]]
            return GoldenCase(
                messages: (c["messages"] as! [[String: String]]).map { ChatMessage(role: $0["role"]!, content: $0["content"]!) },
                promptText: c["prompt_text"] as! String,
                promptIDs: c["prompt_ids"] as! [Int],
                greedyIDs: c["greedy_ids"] as! [Int],
                logprobs: positions.map { $0["logprob"] as! Double },
                top5: positions.map { ($0["top5"] as! [[Any]]).map { (id: $0[0] as! Int, logprob: ($0[1] as! NSNumber).doubleValue) } })
        }
    }
}

/// The default model, loaded once per test process (it takes about a second).
enum SharedModel {
    nonisolated(unsafe) private static var loaded: ModelBundle?
    private static let lock = NSLock()
    static let pool = ComputePool(threads: ProcessInfo.processInfo.activeProcessorCount)

    static func bundle() throws -> ModelBundle {
        lock.lock(); defer { lock.unlock() }
        if let loaded { return loaded }
        let model = try ModelBundle(path: try TestPaths.defaultModel(), pool: pool)
        loaded = model
        return model
    }
}
