// GoldenLoRA: the deterministic LoRA of ../shared/golden/dpo_grad_golden.json (r 4 on q and v; A[i, j] =
// sin(0.01 i + 0.003 j)·0.01, B[i, j] = cos(0.007 i + 0.002 j)·bScale in Hugging Face row order), written into
// GGUF row order (q's rows are permuted per head; see RotaryOrder.llamaRow). Several goldens use it.

import Foundation
import Llama
import ModelFiles

public enum GoldenLoRA {
    public static func tensors(_ layout: LoRALayout, bScale: Double = 0.01) -> LoRATensors {
        precondition(layout.lora.rank == 4)
        let c = layout.model
        let lora = LoRATensors(layout: layout)
        for layer in 0..<c.layerCount {
            for role in [LinearRole.query, .value] {
                let (input, output) = c.shape(of: role)
                let a = lora.a(layer: layer, role: role)!, b = lora.b(layer: layer, role: role)!
                for i in 0..<4 { for j in 0..<input { a[i * input + j] = Float(sin(Double(i) * 0.01 + Double(j) * 0.003) * 0.01) } }
                for hfRow in 0..<output {
                    let row = role == .query ? RotaryOrder.llamaRow(ofHFRow: hfRow, headDim: c.headDim) : hfRow
                    for j in 0..<4 { b[row * 4 + j] = Float(cos(Double(hfRow) * 0.007 + Double(j) * 0.002) * bScale) }
                }
            }
        }
        return lora
    }
}
