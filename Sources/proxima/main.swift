// proxima: scratch golden check (temporary)
import Numerics
import Llama
import ModelFiles
import Foundation

let pool = ComputePool(threads: 2)
let t0 = Date()
let file = try GGUFFile(path: "models/SmolLM2-135M-Instruct.Q4_1.gguf")
let weights = try LlamaWeights(gguf: file, pool: pool)
print("loaded in \(Date().timeIntervalSince(t0)) s, blas core \(BLAS.coreName)")
let golden = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "../shared/golden/torch_fp32_greedy.json"))) as! [String: Any]
let ws = InferenceWorkspace(config: weights.config, maxRows: 512)
var worst: Float = 0
for case let c as [String: Any] in golden["cases"] as! [Any] {
    let prompt = c["prompt_ids"] as! [Int]
    let greedy = c["greedy_ids"] as! [Int]
    let per = c["per_position"] as! [[String: Any]]
    let cache = KVCache(config: weights.config)
    var rows = prompt.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: $0.offset == prompt.count - 1) }
    var logits = weights.forward(rows, workspace: ws, pool: pool)
    var pos = prompt.count
    var mism = 0
    for (i, g) in greedy.enumerated() {
        let lse = logSumExp(logits, weights.config.vocabSize)
        let lp = logits[g] - lse
        let want = Float(per[i]["logprob"] as! Double)
        worst = max(worst, abs(lp - want))
        // argmax excluding eog 0,2,4
        var best = -1; var bv = -Float.infinity
        for t in 0..<weights.config.vocabSize where t != 0 && t != 2 && t != 4 { if logits[t] > bv { bv = logits[t]; best = t } }
        if best != g { mism += 1 }
        rows = [ForwardRow(token: g, position: pos, cache: cache, wantsLogits: true)]
        pos += 1
        logits = weights.forward(rows, workspace: ws, pool: pool)
    }
    print("case: mismatches \(mism)")
}
print("worst logprob diff \(worst)")
// timing decode
let cache = KVCache(config: weights.config)
_ = weights.forward((0..<64).map { ForwardRow(token: 100 + $0, position: $0, cache: cache, wantsLogits: $0 == 63) }, workspace: ws, pool: pool)
let t1 = Date()
for i in 0..<128 { _ = weights.forward([ForwardRow(token: 200 + i, position: 64 + i, cache: cache, wantsLogits: true)], workspace: ws, pool: pool) }
print("decode ms/token \(Date().timeIntervalSince(t1) / 128 * 1000)")
let t2 = Date()
let c2 = KVCache(config: weights.config)
_ = weights.forward((0..<256).map { ForwardRow(token: 100 + $0, position: $0, cache: c2, wantsLogits: $0 == 255) }, workspace: ws, pool: pool)
print("prefill 256 tok/s \(256 / Date().timeIntervalSince(t2))")
