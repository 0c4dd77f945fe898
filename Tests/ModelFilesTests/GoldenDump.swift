// GoldenDump: reads ../shared/golden/gguf_meta.txt, the gguf-python dump of the default model: its
// metadata keys in file order with printed values, and its tensor list (name, shape, type, sizes).

import Foundation
import TestSupport

/// The parts of the golden GGUF dump the tests compare against.
struct GoldenDump {
    struct Tensor {
        let name: String
        /// GGUF order, innermost first.
        let shape: [Int]
        let type: String
        let elementCount: Int
        let byteCount: Int
    }

    /// `key = printed value` in file order (the dump's `GGUF.*` pseudo-keys left out).
    let metadata: [(key: String, printed: String)]
    let tensors: [Tensor]
    /// From the closing `# n_tensors=… total_tensor_bytes=…` line.
    let tensorCount: Int
    let totalTensorBytes: Int

    init() throws {
        let text = try String(contentsOf: TestPaths.golden("gguf_meta.txt"), encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)

        func section(_ heading: String) -> ArraySlice<String> {
            guard let start = lines.firstIndex(where: { $0.hasPrefix(heading) }) else { return [] }
            let rest = lines[(start + 1)...]
            return rest.prefix { !$0.isEmpty && !$0.hasPrefix("#") }
        }

        metadata = section("## All metadata keys").compactMap { line in
            guard let eq = line.range(of: " = "), !line.hasPrefix("GGUF.") else { return nil }
            return (String(line[..<eq.lowerBound]), String(line[eq.upperBound...]))
        }
        tensors = section("## Tensors:").map { line in
            let f = line.components(separatedBy: " | ")
            let shape = f[1].trimmingCharacters(in: CharacterSet(charactersIn: "[]")).components(separatedBy: ", ").map { Int($0)! }
            return Tensor(name: f[0], shape: shape, type: f[2], elementCount: Int(f[3])!, byteCount: Int(f[4])!)
        }
        let summary = lines.first { $0.hasPrefix("# n_tensors=") } ?? ""
        func number(after label: String) -> Int {
            guard let r = summary.range(of: label) else { return -1 }
            return Int(summary[r.upperBound...].prefix { $0.isNumber }) ?? -1
        }
        tensorCount = number(after: "n_tensors=")
        totalTensorBytes = number(after: "total_tensor_bytes=")
    }
}
