// PEFTAdapter: a LoRA ensemble's exact merge written as a PEFT adapter (adapter_model.safetensors and
// adapter_config.json): rank E·r factors [A_1; …; A_E] and [B_1 … B_E] with lora_alpha = α, so PEFT's
// scaling α/(E·r) gives (α/r)/E. q and k rows of B are put back in Hugging Face order (RotaryOrder; for every architecture, since the
// loader keeps Qwen's q and k in Llama's order too).

import Foundation
import Llama

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

    /// Reads a PEFT LoRA adapter for `model` as one rank-R member (R = the file's r, scale lora_alpha / R),
    /// q and k rows of B put in GGUF order. Refuses shapes or modules that do not fit the model.
    public static func load(safetensors: [UInt8], config: [UInt8], model: LlamaConfig, path: String) throws(ModelFileError) -> LoRATensors {
        guard let json = try? JSONSerialization.jsonObject(with: Data(config)) as? [String: Any],
              let rank = json["r"] as? Int, rank > 0, let alpha = (json["lora_alpha"] as? NSNumber)?.floatValue,
              let modules = json["target_modules"] as? [String] else {
            throw .malformed(path: path, what: "adapter_config.json", problem: "needs r, lora_alpha and target_modules")
        }
        var roles: [LinearRole] = []
        for name in modules {
            guard let role = LinearRole.allCases.first(where: { module($0).hasSuffix(name) }) else {
                throw .unsupported(path: path, what: "adapter_config.json", problem: "target module '\(name)'")
            }
            roles.append(role)
        }
        let (tensors, _) = try Safetensors.decode(safetensors, path: path)
        let byName = Dictionary(tensors.map { ($0.name, $0) }, uniquingKeysWith: { a, _ in a })
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: rank, alpha: alpha, targets: roles))
        let result = LoRATensors(layout: layout)
        for layer in 0..<model.layerCount {
            for role in layout.lora.targets {
                let (input, output) = model.shape(of: role)
                let prefix = "base_model.model.model.layers.\(layer).\(module(role))"
                guard let a = byName[prefix + ".lora_A.weight"], a.shape == [rank, input],
                      let b = byName[prefix + ".lora_B.weight"], b.shape == [output, rank] else {
                    throw .malformed(path: path, what: "tensor '\(prefix).lora_A/B.weight'", problem: "missing or not shaped [\(rank), \(input)] / [\(output), \(rank)]")
                }
                result.a(layer: layer, role: role)!.update(from: a.values, count: a.values.count)
                let rb = result.b(layer: layer, role: role)!
                for hfRow in 0..<output {
                    let row = permutes(role) ? RotaryOrder.llamaRow(ofHFRow: hfRow, headDim: model.headDim) : hfRow
                    for k in 0..<rank { rb[row * rank + k] = b.values[hfRow * rank + k] }
                }
            }
        }
        return result
    }
}
