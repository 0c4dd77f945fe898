// PromptSet: prompt files (one {"prompt": "..."} JSON object per line, as in prompts/) and the two sets the
// binary carries: `train` (what simulated users chat about) and `dev` (the held-out prompts of the gate and of
// every win rate), so that the binary needs no file beside it.

import Foundation

public enum PromptSet {
    /// The prompts of a JSON-lines text; `source` names it in errors ("file:line: …").
    public static func parse(_ text: String, source: String) throws(PromptSetError) -> [String] {
        var prompts: [String] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.allSatisfy(\.isWhitespace) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let prompt = object["prompt"] as? String, !prompt.isEmpty else {
                throw PromptSetError("\(source):\(i + 1): expected {\"prompt\": \"...\"}")
            }
            prompts.append(prompt)
        }
        guard !prompts.isEmpty else { throw PromptSetError("\(source) holds no prompts") }
        return prompts
    }

    /// The prompts of the file at `path`.
    public static func load(path: String) throws(PromptSetError) -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw PromptSetError("cannot read prompt file \(path)") }
        return try parse(String(decoding: data, as: UTF8.self), source: path)
    }

    /// The prompts of `path`, or the built-in set `fallback` when `path` is nil or empty.
    public static func load(path: String?, fallback: [String]) throws(PromptSetError) -> [String] {
        guard let path, !path.isEmpty else { return fallback }
        return try load(path: path)
    }

    /// prompts/train.jsonl as shipped (1,450 prompts).
    public static let train: [String] = try! parse(trainJSONL, source: "built-in train prompts")
    /// prompts/dev.jsonl as shipped (200 held-out prompts; no topic in common with `train`).
    public static let dev: [String] = try! parse(devJSONL, source: "built-in dev prompts")
}

/// A prompt file that cannot be used, in one line.
public struct PromptSetError: Error, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}
