// PEFTAdapter: a LoRA ensemble's exact merge written as a PEFT adapter (adapter_model.safetensors and
// adapter_config.json): rank E·r factors [A_1; …; A_E] and [B_1 … B_E] with lora_alpha = α, so PEFT's
// scaling α/(E·r) gives (α/r)/E. q and k rows of B are put back in Hugging Face order (RotaryOrder; for every architecture, since the
// loader keeps Qwen's q and k in Llama's order too).

import Foundation
import Llama
import Service

public enum PEFTAdapter {
    /// PEFT's module name for a role.
    static func module(_ role: LinearRole) -> String {
        switch role {
        case .query: return "self_attn.q_proj"
        case .key: return "self_attn.k_proj"
        case .value: return "self_attn.v_proj"
        case .output: return "self_attn.o_proj"
        case .gate: return "mlp.gate_proj"
        case .up: return "mlp.up_proj"
        case .down: return "mlp.down_proj"
        }
    }

    private static func permutes(_ role: LinearRole) -> Bool { role == .query || role == .key }

    /// The safetensors bytes and config JSON of the merged adapter of `members`.
    public static func export(members: [LoRATensors], baseModel: String) -> (safetensors: [UInt8], config: [UInt8]) {
        let layout = members[0].layout
        let model = layout.model, r = layout.lora.rank, e = members.count
        var tensors: [NamedTensor] = []
        for layer in 0..<model.layerCount {
            for role in layout.lora.targets {
                let (input, output) = model.shape(of: role)
                let prefix = "base_model.model.model.layers.\(layer).\(module(role))"
                var a = [Float](), b = [Float](repeating: 0, count: output * e * r)
                a.reserveCapacity(e * r * input)
                for m in members { a += UnsafeBufferPointer(start: m.a(layer: layer, role: role)!, count: r * input) }
                for (i, m) in members.enumerated() {
                    let mb = m.b(layer: layer, role: role)!
                    for hfRow in 0..<output {
                        let row = permutes(role) ? RotaryOrder.llamaRow(ofHFRow: hfRow, headDim: model.headDim) : hfRow
                        for k in 0..<r { b[hfRow * e * r + i * r + k] = mb[row * r + k] }
                    }
                }
                tensors.append(NamedTensor(name: prefix + ".lora_A.weight", shape: [e * r, input], values: a))
                tensors.append(NamedTensor(name: prefix + ".lora_B.weight", shape: [output, e * r], values: b))
            }
        }
        let config: [String: Any] = [
            "peft_type": "LORA", "task_type": "CAUSAL_LM", "r": e * r, "lora_alpha": Double(layout.lora.alpha),
            "target_modules": layout.lora.targets.map { module($0).split(separator: ".").last.map(String.init)! },
            "lora_dropout": 0.0, "bias": "none", "fan_in_fan_out": false, "inference_mode": true,
            "use_rslora": false, "use_dora": false, "base_model_name_or_path": baseModel,
        ]
        let json = (try? JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])) ?? Data()
        return (Safetensors.encode(tensors, metadata: ["format": "pt"]), Array(json))
    }

    /// Reads a PEFT LoRA adapter for `model` as one rank-R member (R = the file's r, scale lora_alpha / R, or
    /// lora_alpha / √R with rsLoRA), q and k rows of B put in GGUF order. Refuses what it cannot apply exactly:
    /// adapters of other types or with DoRA, biases, per-module ranks, extra trained modules or a subset of
    /// layers; target modules the model lacks; tensors missing, extra, or not shaped as the model and r say.
    public static func load(safetensors: [UInt8], config: [UInt8], model: LlamaConfig, path: String) throws(ModelFileError) -> LoRATensors {
        let configPath = path + "/adapter_config.json"
        guard let json = try? JSONSerialization.jsonObject(with: Data(config)) as? [String: Any] else {
            throw .malformed(path: configPath, what: "content", problem: "not a JSON object")
        }
        guard (json["peft_type"] as? String ?? "LORA") == "LORA" else {
            throw .unsupported(path: configPath, what: "peft_type", problem: "'\(json["peft_type"]!)' (only LORA adapters are read)")
        }
        guard let rank = json["r"] as? Int, rank > 0, let alphaNumber = json["lora_alpha"] as? NSNumber, alphaNumber.floatValue > 0 else {
            throw .malformed(path: configPath, what: "r / lora_alpha", problem: "needs a positive integer r and a positive lora_alpha")
        }
        func refuse(_ key: String, when bad: (Any) -> Bool, _ problem: String) throws(ModelFileError) {
            if let value = json[key], !(value is NSNull), bad(value) { throw .unsupported(path: configPath, what: key, problem: problem) }
        }
        try refuse("use_dora", when: { ($0 as? Bool) == true }, "DoRA adapters")
        try refuse("bias", when: { ($0 as? String) != "none" }, "trained biases (bias must be \"none\")")
        try refuse("fan_in_fan_out", when: { ($0 as? Bool) == true }, "fan_in_fan_out (Conv1D layouts)")
        try refuse("modules_to_save", when: { !(($0 as? [Any])?.isEmpty ?? false) }, "fully trained modules (modules_to_save)")
        try refuse("layers_to_transform", when: { !(($0 as? [Any])?.isEmpty ?? false) }, "adapters on a subset of layers")
        try refuse("rank_pattern", when: { !(($0 as? [String: Any])?.isEmpty ?? false) }, "per-module ranks (rank_pattern)")
        try refuse("alpha_pattern", when: { !(($0 as? [String: Any])?.isEmpty ?? false) }, "per-module alphas (alpha_pattern)")
        try refuse("lora_bias", when: { ($0 as? Bool) == true }, "LoRA biases")
        try refuse("use_qalora", when: { ($0 as? Bool) == true }, "QA-LoRA adapters")
        for key in ["layer_replication", "trainable_token_indices", "target_parameters", "alora_invocation_tokens"] {
            try refuse(key, when: { _ in true }, "\(key) (only plain LoRA on linear modules is read)")
        }
        let modules: [String]
        if let list = json["target_modules"] as? [String] { modules = list }
        else if let one = json["target_modules"] as? String { modules = [one] }
        else { throw .malformed(path: configPath, what: "target_modules", problem: "needs a list of module names") }
        var roles: [LinearRole] = []
        for name in modules {
            guard let role = LinearRole.allCases.first(where: { module($0).split(separator: ".").last.map(String.init) == name }) else {
                throw .unsupported(path: configPath, what: "target_modules", problem: "'\(name)': the model's adaptable modules are "
                                   + LinearRole.allCases.map { module($0).split(separator: ".").last! }.joined(separator: ", "))
            }
            roles.append(role)
        }
        // rsLoRA scales by alpha/√r: the same as alpha·√r over r.
        let alpha = alphaNumber.floatValue * ((json["use_rslora"] as? Bool) == true ? Float(rank).squareRoot() : 1)
        let weightsPath = path + "/adapter_model.safetensors"
        let (tensors, _) = try Safetensors.decode(safetensors, path: weightsPath)
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: rank, alpha: alpha, targets: roles))
        let result = LoRATensors(layout: layout)
        var used = Set<String>()
        for layer in 0..<model.layerCount {
            for role in layout.lora.targets {
                let (input, output) = model.shape(of: role)
                let prefix = "base_model.model.model.layers.\(layer).\(module(role))"
                for (suffix, shape) in [(".lora_A.weight", [rank, input]), (".lora_B.weight", [output, rank])] {
                    guard let t = byName[prefix + suffix] else { throw .missing(path: weightsPath, what: "tensor '\(prefix + suffix)'") }
                    guard t.shape == shape else {
                        throw .malformed(path: weightsPath, what: "tensor '\(prefix + suffix)'",
                                         problem: "shape \(t.shape), expected \(shape) (r = \(rank) and the model's widths)")
                    }
                    guard t.values.allSatisfy(\.isFinite) else {
                        throw .malformed(path: weightsPath, what: "tensor '\(prefix + suffix)'", problem: "holds NaN or infinite values")
                    }
                    used.insert(prefix + suffix)
                }
                let a = byName[prefix + ".lora_A.weight"]!, b = byName[prefix + ".lora_B.weight"]!
                result.a(layer: layer, role: role)!.update(from: a.values, count: a.values.count)
                let rb = result.b(layer: layer, role: role)!
                for hfRow in 0..<output {
                    let row = permutes(role) ? RotaryOrder.llamaRow(ofHFRow: hfRow, headDim: model.headDim) : hfRow
                    for k in 0..<rank { rb[row * rank + k] = b.values[hfRow * rank + k] }
                }
            }
        }
        if let extra = tensors.first(where: { !used.contains($0.name) }) {
            throw .malformed(path: weightsPath, what: "tensor '\(extra.name)'",
                             problem: "not a LoRA factor of a target module of this model (\(model.layerCount) layers)")
        }
        return result
    }
}

/// Reads PEFT adapter directories (adapter_config.json + adapter_model.safetensors) for `AdminService.importAdapter`.
public struct PEFTDirectoryReader: AdapterReader {
    public init() {}

    public func readAdapter(directory: String, model: LlamaConfig) throws -> LoRATensors {
        func read(_ name: String) throws(ModelFileError) -> [UInt8] {
            let path = directory + "/" + name
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw .unreadable(path: directory, reason: "not a directory (a PEFT adapter is a directory with adapter_config.json and adapter_model.safetensors)")
            }
            guard let data = FileManager.default.contents(atPath: path) else { throw .missing(path: directory, what: "file \(name)") }
            return Array(data)
        }
        return try PEFTAdapter.load(safetensors: try read(PolicyFiles.adapterFile), config: try read(PolicyFiles.configFile), model: model, path: directory)
    }
}
