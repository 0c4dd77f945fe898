// AdapterImport: adapters trained elsewhere become policy versions. The reader (a port: ModelFiles reads PEFT
// directories) checks the files against the model; the version holds an ensemble whose merge is the adapter
// (LoRAEnsemble(importing:)), so it serves exactly that adapter and phases can train on from it. Used by
// `POST /admin/policies/import` (AdminService) and `proxima import-adapter` (offline).

import Foundation
import Learning
import Llama
import ProximaCore

/// Reads an adapter directory for a model, refusing (with one line naming the file and the problem) any it
/// cannot apply exactly.
public protocol AdapterReader: Sendable {
    func readAdapter(directory: String, model: LlamaConfig) throws -> LoRATensors
}

public enum AdapterImport {
    /// The ensemble a version made from the adapter in `directory` holds — E members of rank max(R, learner
    /// rank), shaped by the learner's phase settings — and the version's metrics (`lineage` "imported", the
    /// source, the adapter's r, alpha and targets). `AdminError.invalidImport` when the adapter is refused.
    public static func ensemble(directory: String, reader: any AdapterReader, model: LlamaConfig,
                                settings: PhaseSettings) async throws -> (LoRAEnsemble, JSONObject) {
        let adapter: LoRATensors
        do {
            adapter = try await onOwnThread("proxima-versions") { try reader.readAdapter(directory: directory, model: model) }
        } catch {
            throw AdminError.invalidImport("\(error)")
        }
        let ensemble = LoRAEnsemble(importing: adapter, settings: settings.lora, memberCount: settings.ensembleSize, seed: settings.seed)
        let lora = adapter.layout.lora
        let metrics: JSONObject = [
            "lineage": "imported", "source": .string(directory), "rank": .number(Double(lora.rank)),
            "alpha": .number(Double(lora.alpha)), "targets": .array(lora.targets.map { .string($0.rawValue) }),
        ]
        return (ensemble, metrics)
    }
}

extension AdminService {
    /// Registers the adapter in `directory` as a candidate version on top of the base model (parent v0, no
    /// phase). Nothing is registered when the adapter is refused.
    public func importAdapter(directory: String) async throws -> PolicyVersionRecord {
        guard let reader = adapterReader else { throw AdminError.invalidImport("this server cannot read adapter files") }
        let (ensemble, metrics) = try await AdapterImport.ensemble(directory: directory, reader: reader, model: registry.modelConfig,
                                                                   settings: phaseQueue.defaults)
        return try await registry.publishImported(ensemble, metrics: metrics)
    }
}
