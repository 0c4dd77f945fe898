// LoRAEnsemble+Import: the ensemble a version made from an adapter trained elsewhere holds — E members that
// each carry the adapter in their first R ranks (its scale folded into B) and fresh ranks beyond, so that the
// exact merge is the adapter itself and training from it starts E distinct members on top of it.

import Llama

extension LoRAEnsemble {
    /// E members of rank max(R, settings' rank) on the imported targets and the settings' ones, at the
    /// settings' scale: member i is a fresh member (seed + i: random A, B = 0) whose first R ranks on the
    /// imported targets are the adapter's A and B·(its scale / the settings' scale). The merge (the members'
    /// mean) is the adapter; the members differ in their fresh ranks, which training moves apart.
    public convenience init(importing adapter: LoRATensors, settings: LoRAConfiguration, memberCount: Int, seed: UInt64) {
        let imported = adapter.layout.lora, model = adapter.layout.model
        let rank = max(imported.rank, settings.rank)
        let targets = LinearRole.allCases.filter { imported.targets.contains($0) || settings.targets.contains($0) }
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: rank, alpha: settings.scale * Float(rank), targets: targets))
        let factor = imported.scale / layout.lora.scale
        let members = (0..<memberCount).map { i in
            let member = LoRAMember(layout: layout, seed: seed &+ UInt64(i))
            for layer in 0..<model.layerCount {
                for role in imported.targets {
                    let (input, output) = model.shape(of: role)
                    let a = member.parameters.a(layer: layer, role: role)!, b = member.parameters.b(layer: layer, role: role)!
                    let sourceA = adapter.a(layer: layer, role: role)!, sourceB = adapter.b(layer: layer, role: role)!
                    a.update(from: sourceA, count: imported.rank * input)
                    for row in 0..<output {
                        for k in 0..<imported.rank { b[row * rank + k] = sourceB[row * imported.rank + k] * factor }
                    }
                }
            }
            return member
        }
        self.init(layout: layout, members: members)
    }
}
