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
    @Option(help: "Configuration file (as for serve: its database, policies directory and learner settings).") var config: String?
    @Option(help: "SQLite database file (default data/proxima.sqlite).") var db: String?
    @Option(help: "PostgreSQL database instead of the SQLite file: postgres://user@host:5432/database (database.url).") var database: String?
    @Option(name: .long, help: "The base model GGUF the database serves (default: the configured model).") var model: String?

    func run() async throws {
        var flags: [ServeSettings.Flag: String] = [:]
        flags[.db] = db
        flags[.database] = database
        flags[.model] = model
        let settings = try await ServeSettings.load(file: config, flags: flags)
        guard !settings.databaseURL.isEmpty || FileManager.default.fileExists(atPath: settings.db) else {
            throw CLIError("no database at \(settings.db)")
        }
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
        let opened = try await OpenedStore.open(settings, logger: Logger(label: "proxima"))
        let store = opened.store
        guard let base = try await store.policyVersions().first(where: { $0.parent == nil }) else {
            await opened.close()
            throw CLIError("\(opened.location) has no base version (start the server on it once)")
        }
        let files = PolicyDirectory(settings.policiesDirectoryURL)
        let name = URL(fileURLWithPath: modelPath).deletingPathExtension().lastPathComponent
        let version: PolicyVersionRecord
        do {
            let stored = try files.store(ensemble, baseModelName: name)
            // With PostgreSQL, replicas on other disks fetch the version from the database.
            try await opened.sharedFiles?.putFile(sha256: stored.state.sha256, bytes: try files.stateBytes(stored.state, version: "the import"))
            version = try await store.insertCandidate(CandidateVersion(parent: base.id, phaseID: nil, createdAt: Date(),
                                                                       adapter: stored.adapter, state: stored.state, metrics: metrics))
        } catch {
            await opened.close()
            throw error
        }
        await opened.close()
        let activate = settings.databaseURL.isEmpty ? "`proxima policies activate --db \(settings.db) \(version.id)`" : "POST /admin/policies/\(version.id)/activate"
        print("\(version.id): imported from \(directory) (candidate; activate with \(activate))")
    }
}
