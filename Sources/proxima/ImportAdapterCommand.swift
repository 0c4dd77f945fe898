// ImportAdapterCommand: `proxima import-adapter DIR` — registers a PEFT adapter directory as a candidate policy
// version of a database, offline (with the server stopped; a running server takes POST /admin/policies/import).
// The model must be the one the database serves; the ensemble is shaped by the configuration's learner settings.

import ProximaApp
import ArgumentParser
import Foundation
import Learning
import Llama
import ModelFiles
import ProximaCore
import Service
import Logging
import Store

struct ImportAdapterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-adapter",
        abstract: "Register a PEFT adapter directory (adapter_config.json + adapter_model.safetensors) as a policy version.",
        discussion: "The version is a candidate on top of the base model (lineage \"imported\"); activate it with "
            + "`proxima policies activate` or the dashboard. Phases started from it train a fresh ensemble whose merge is the adapter.")

    @Argument(help: "The adapter directory.") var directory: String
    @OptionGroup var location: DatabaseOptions
    @Option(name: .long, help: "The base model GGUF the database serves (default: the configured model).") var model: String?

    func run() async throws {
        // The configuration's learner settings shape the ensemble.
        let settings = try await location.settings(model: model)
        let modelPath = try settings.model ?? InstallLayout.defaultModelPath()
        let modelConfig: LlamaConfig
        do { modelConfig = try LlamaConfig(gguf: GGUFFile(path: modelPath)) } catch { throw CLIError("\(error)") }
        let (ensemble, metrics): (LoRAEnsemble, JSONObject)
        do {
            (ensemble, metrics) = try await AdapterImport.ensemble(directory: directory, reader: PEFTDirectoryReader(), model: modelConfig,
                                                                   settings: settings.learner.phase)
        } catch {
            throw CLIError("\(directory): cannot import: \(error)")
        }
        let files = PolicyDirectory(settings.policiesDirectoryURL)
        let name = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        let version = try await OpenedStore.open(settings, logger: Logger(label: "proxima")).closing { opened in
            guard let base = try await opened.store.policyVersions().first(where: { $0.parent == nil }) else {
                throw CLIError("\(opened.location) has no base version (start the server on it once)")
            }
            let stored = try files.store(ensemble, baseModelName: name)
            // With PostgreSQL, replicas on other disks fetch the version from the database.
            try await opened.sharedFiles?.putFile(sha256: stored.state.sha256, bytes: try files.stateBytes(stored.state, version: "the import"))
            return try await opened.store.insertCandidate(CandidateVersion(parent: base.id, phaseID: nil, createdAt: Date(),
                                                                           adapter: stored.adapter, state: stored.state, metrics: metrics))
        }
        let activate = settings.databaseURL.isEmpty ? "`proxima policies activate --db \(settings.db) \(version.id)`"
            : "`proxima policies activate --database URL \(version.id)` or POST /admin/policies/\(version.id)/activate"
        print("\(version.id): imported from \(directory) (candidate; activate with \(activate))")
    }
}
