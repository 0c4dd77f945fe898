// PromptSet: reads a JSONL prompt file ({"prompt": "..."} per line), as shipped in prompts/.

import Foundation

enum PromptSet {
    static func load(_ path: String) throws -> [String] {
        guard let data = FileManager.default.contents(atPath: path) else { throw CLIError("cannot read prompt file \(path)") }
        var prompts: [String] = []
        for (i, line) in String(decoding: data, as: UTF8.self).split(separator: "\n").enumerated() where !line.allSatisfy(\.isWhitespace) {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let prompt = object["prompt"] as? String, !prompt.isEmpty else {
                throw CLIError("\(path):\(i + 1): expected {\"prompt\": \"...\"}")
            }
            prompts.append(prompt)
        }
        guard !prompts.isEmpty else { throw CLIError("\(path) holds no prompts") }
        return prompts
    }

    /// prompts/<name> in the working directory or the package this executable was built in.
    static func defaultPath(_ name: String) -> String { ModelOptions.packageFile("prompts/\(name)") ?? "prompts/\(name)" }
}
