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
import Store

struct ImportAdapterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import-adapter",
        abstract: "Register a PEFT adapter directory (adapter_config.json + adapter_model.safetensors) as a policy version.",
        discussion: "The version is a candidate on top of the base model (lineage \"imported\"); activate it with "
            + "`proxima policies activate` or the dashboard. Phases started from it train a fresh ensemble whose merge is the adapter.")

    @Argument(help: "The adapter directory.") var directory: String
    @Option(help: "Configuration file (as for serve: its database, policies directory and learner settings).") var config: String?
    @Option(help: "SQLite database file (default data/proxima.sqlite).") var db: String?
    @Option(name: .long, help: "The base model GGUF the database serves (default: the configured model).") var model: String?

    func run() async throws {
        var flags: [ServeSettings.Flag: String] = [:]
        flags[.db] = db
        flags[.model] = model
        let settings = try await ServeSettings.load(file: config, flags: flags)
        guard FileManager.default.fileExists(atPath: settings.db) else { throw CLIError("no database at \(settings.db)") }
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
        let database = try AppDatabase.open(path: settings.db)
        defer { try? database.close() }
        let store = SQLiteProximaStore(database: database)
        guard let base = try await store.policyVersions().first(where: { $0.parent == nil }) else {
            throw CLIError("\(settings.db) has no base version (start the server on it once)")
        }
        let files = PolicyDirectory(settings.policiesDirectoryURL)
        let name = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        let stored = try files.store(ensemble, baseModelName: name)
        let version = try await store.insertCandidate(CandidateVersion(parent: base.id, phaseID: nil, createdAt: Date(),
                                                                       adapter: stored.adapter, state: stored.state, metrics: metrics))
        print("\(version.id): imported from \(directory) (candidate; activate with `proxima policies activate --db \(settings.db) \(version.id)`)")
    }
}
