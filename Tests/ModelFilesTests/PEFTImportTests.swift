// PEFTImportTests: adapters trained elsewhere. A LoRA made by PEFT on the default model (Fixtures/
// make_peft_adapter.py: rank 2 on q, k and v, rsLoRA, BF16 tensors), imported as a version's ensemble, serves
// PEFT's own log-probs; adapters that cannot be applied exactly are refused naming the file and the problem.

import Foundation
import Learning
import Llama
import ModelFiles
import ProximaNumerics
import TestSupport
import XCTest

final class PEFTImportTests: XCTestCase {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    struct Golden: Decodable {
        struct Case: Decodable {
            let ids: [Int]
            let logProbs: [Double]
            let baseLogProbs: [Double]
            enum CodingKeys: String, CodingKey { case ids, logProbs = "log_probs", baseLogProbs = "base_log_probs" }
        }
        let cases: [Case]
    }

    /// Every token's log-probability after its prefix, in one teacher-forced forward.
    private func logProbs(_ weights: LlamaWeights, _ ids: [Int], adapter: (any LinearAdapter)?, pool: ComputePool) -> [Double] {
        let c = weights.config
        let cache = KVCache(config: c, capacity: ids.count)
        let workspace = InferenceWorkspace(config: c, maxRows: ids.count)
        let rows = ids.enumerated().map { ForwardRow(token: $0.element, position: $0.offset, cache: cache, wantsLogits: true) }
        let logits = weights.forward(rows, adapter: adapter, workspace: workspace, pool: pool)
        return (1..<ids.count).map { i in
            let row = logits + (i - 1) * c.vocabSize
            return Double(row[ids[i]] - logSumExp(row, c.vocabSize))
        }
    }

    func testAnImportedPEFTAdapterServesPEFTsLogProbs() throws {
        let pool = ComputePool(threads: 2)
        defer { pool.shutdown() }
        let weights = try LlamaWeights(gguf: GGUFFile(path: TestPaths.defaultModel()), pool: pool)
        let adapter = try PEFTDirectoryReader().readAdapter(directory: Self.fixtures.appendingPathComponent("peft_adapter").path, model: weights.config)
        XCTAssertEqual(adapter.layout.lora.rank, 2)
        XCTAssertEqual(adapter.layout.lora.targets, [.query, .key, .value])
        XCTAssertEqual(adapter.layout.lora.scale, 4 / Float(2).squareRoot(), accuracy: 1e-6, "rsLoRA: alpha / √r")
        // As a version holds it: an ensemble of the learner's shape (rank 16 on every target, 5 members), saved and read back.
        let ensemble = LoRAEnsemble(importing: adapter, settings: LoRAConfiguration(rank: 16), memberCount: 5, seed: 3)
        let stored = try EnsembleStateFile.decode(EnsembleStateFile.encode(ensemble), path: "imported")
        let merged = stored.merged()
        let golden = try JSONDecoder().decode(Golden.self, from: Data(contentsOf: Self.fixtures.appendingPathComponent("peft_logprobs.json")))
        var worst = 0.0, moved = 0.0
        for c in golden.cases {
            let mine = logProbs(weights, c.ids, adapter: merged, pool: pool)
            for (i, (m, g)) in zip(mine, c.logProbs).enumerated() {
                worst = max(worst, abs(m - g))
                XCTAssertEqual(m, g, accuracy: 1e-3, "token \(i + 1) of \(c.ids.prefix(4))…")
                moved = max(moved, abs(g - c.baseLogProbs[i]))
            }
            let base = logProbs(weights, c.ids, adapter: nil, pool: pool)
            for (m, g) in zip(base, c.baseLogProbs) { XCTAssertEqual(m, g, accuracy: 1e-3, "without the adapter") }
        }
        XCTAssertGreaterThan(moved, 0.1, "the adapter must change the log-probs for the comparison to mean anything")
        print("PEFT import: largest log-prob gap to PEFT \(String(format: "%.2e", worst)) nats (the adapter moves them by up to \(String(format: "%.2f", moved)))")
    }

    // MARK: The bad-adapter battery

    private let model = LlamaConfig(layerCount: 2, dim: 64, ffnDim: 96, headCount: 4, kvHeadCount: 2, headDim: 16,
                                    vocabSize: 10, contextLength: 32, ropeBase: 10_000, normEps: 1e-5)

    /// A valid PEFT adapter for `model` (rank 2 on q and v), as files.
    private func validAdapter() -> (safetensors: [UInt8], config: [String: Any]) {
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: 2, alpha: 4, targets: [.query, .value]))
        let member = LoRAMember(layout: layout, seed: 1)
        for j in 0..<layout.count { member.parameters.storage.pointer[j] += Float(sin(Double(j))) * 0.01 }
        let (st, config) = PEFTAdapter.export(members: [member.parameters], baseModel: "tiny")
        return (st, try! JSONSerialization.jsonObject(with: Data(config)) as! [String: Any])
    }

    private func load(_ st: [UInt8], _ config: [String: Any], model: LlamaConfig? = nil) throws -> LoRATensors {
        try PEFTAdapter.load(safetensors: st, config: Array(try JSONSerialization.data(withJSONObject: config)), model: model ?? self.model, path: "adapter")
    }

    private func assertRefused(_ st: [UInt8], _ config: [String: Any], model: LlamaConfig? = nil, saying parts: [String],
                               file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertThrowsError(try load(st, config, model: model), file: file, line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.hasPrefix("adapter/"), "names the file: \(text)", file: file, line: line)
            for part in parts { XCTAssertTrue(text.contains(part), "\(text) lacks '\(part)'", file: file, line: line) }
        }
    }

    func testAdaptersThatCannotBeAppliedExactlyAreRefused() throws {
        let (st, config) = validAdapter()
        XCTAssertEqual(try load(st, config).layout.lora.targets, [.query, .value])

        var wider = model
        wider.dim = 128; wider.headDim = 32
        assertRefused(st, config, model: wider, saying: ["adapter_model.safetensors", "lora_A.weight", "shape [2, 64], expected [2, 128]"])
        var other = config
        other["target_modules"] = ["q_proj", "lm_head"]
        assertRefused(st, other, saying: ["adapter_config.json", "'lm_head'", "q_proj"])
        other = config
        other["r"] = 4
        assertRefused(st, other, saying: ["adapter_model.safetensors", "expected [4, 64]"])
        other = config
        other["target_modules"] = ["q_proj", "v_proj", "k_proj"]
        assertRefused(st, other, saying: ["missing", "k_proj.lora_A.weight"])
        other = config
        other["target_modules"] = ["q_proj"]
        assertRefused(st, other, saying: ["v_proj.lora_A.weight", "not a LoRA factor"])
        for (key, value, problem) in [("use_dora", true as Any, "DoRA"), ("bias", "all" as Any, "biases"), ("peft_type", "IA3" as Any, "IA3"),
                                      ("modules_to_save", ["lm_head"] as Any, "modules_to_save"), ("layers_to_transform", [0] as Any, "subset of layers"),
                                      ("rank_pattern", ["q_proj": 4] as Any, "rank_pattern")] {
            other = config
            other[key] = value
            assertRefused(st, other, saying: ["adapter_config.json", problem])
        }
        other = config
        other.removeValue(forKey: "r")
        assertRefused(st, other, saying: ["adapter_config.json", "r / lora_alpha"])

        assertRefused(Array(st.prefix(st.count - 9)), config, saying: ["adapter_model.safetensors", "do not fit"])
        assertRefused(Array(st.prefix(5)), config, saying: ["adapter_model.safetensors", "shorter than 8 bytes"])
        var garbage = st
        garbage.replaceSubrange(8..<16, with: Array("not json".utf8))
        assertRefused(garbage, config, saying: ["adapter_model.safetensors", "not a JSON object"])
        XCTAssertThrowsError(try PEFTAdapter.load(safetensors: st, config: Array("{".utf8), model: model, path: "adapter")) {
            XCTAssertTrue("\($0)".contains("adapter_config.json: content: not a JSON object"), "\($0)")
        }

        // A NaN anywhere is refused.
        var (tensors, metadata) = try Safetensors.decode(st, path: "adapter")
        tensors[0].values[3] = .nan
        assertRefused(Safetensors.encode(tensors, metadata: metadata), config, saying: ["NaN"])
    }

    func testTheDirectoryReaderNamesWhatIsMissing() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-peft-\(UUID().uuidString)")
        XCTAssertThrowsError(try PEFTDirectoryReader().readAdapter(directory: directory.path, model: model)) {
            XCTAssertTrue("\($0)".contains("not a directory"), "\($0)")
        }
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let (st, config) = validAdapter()
        try Data(st).write(to: directory.appendingPathComponent("adapter_model.safetensors"))
        XCTAssertThrowsError(try PEFTDirectoryReader().readAdapter(directory: directory.path, model: model)) {
            XCTAssertTrue("\($0)".contains("missing file adapter_config.json"), "\($0)")
        }
        try JSONSerialization.data(withJSONObject: config).write(to: directory.appendingPathComponent("adapter_config.json"))
        XCTAssertEqual(try PEFTDirectoryReader().readAdapter(directory: directory.path, model: model).layout.lora.rank, 2)
    }

    /// The imported ensemble's merge is the adapter, whatever the learner's shape; its members differ.
    func testTheImportedEnsembleMergesToTheAdapter() throws {
        let (st, config) = validAdapter()
        let adapter = try load(st, config)
        let single = LowRankAdapter(members: [adapter])
        for settings in [LoRAConfiguration(rank: 1, targets: [.up]), LoRAConfiguration(rank: 8, alpha: 3)] {
            let ensemble = LoRAEnsemble(importing: adapter, settings: settings, memberCount: 3, seed: 9)
            XCTAssertEqual(ensemble.layout.lora.rank, max(2, settings.rank))
            XCTAssertEqual(ensemble.layout.lora.scale, settings.scale)
            XCTAssertTrue(Set(ensemble.layout.lora.targets).isSuperset(of: settings.targets + [.query, .value]))
            XCTAssertNotEqual(Array(UnsafeBufferPointer(start: ensemble.members[0].parameters.storage.pointer, count: ensemble.layout.count)),
                              Array(UnsafeBufferPointer(start: ensemble.members[1].parameters.storage.pointer, count: ensemble.layout.count)))
            let merged = ensemble.merged()
            for role in LinearRole.allCases {
                let (input, output) = model.shape(of: role)
                let x = (0..<input).map { Float(cos(Double($0) * 0.3)) }
                var mine = [Float](repeating: 0, count: output), theirs = mine, u = [Float](repeating: 0, count: 64)
                merged.delta(layer: 1, role: role)?.apply(x, &mine, u: &u, m: 1, pool: nil)
                single.delta(layer: 1, role: role)?.apply(x, &theirs, u: &u, m: 1, pool: nil)
                for o in 0..<output { XCTAssertEqual(mine[o], theirs[o], accuracy: 1e-6, "\(role)") }
            }
        }
    }
}
