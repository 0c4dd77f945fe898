// ServeSettings: everything `proxima serve` is configured with — one Decodable type per concern (this one
// holds the top-level keys and a section per concern: auth, chat, engine, http, learner), read by
// ConfigDecoder from flags, then PROXIMA_* environment variables, then the YAML file (config/proxima.yaml
// documents every key), then the types' own defaults.

import Configuration
import Foundation
import HTTPAPI
import Logging
import Service
import SystemPackage

public struct ServeSettings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    public var db = "data/proxima.sqlite"
    /// `database.url`: a `postgres://` URL; when set the store is PostgreSQL and `db` is not used.
    public var databaseURL = ""
    /// What this process does: chat and the learner (`all`), chat only (`replica`) or the learner only (`learner`).
    public var role = ServeRole.all
    /// Where the policy versions' files are: `learner.policies_dir`, else policies/ beside the database.
    public var policiesDirectoryURL: URL {
        learner.policiesDirectory.isEmpty
            ? URL(fileURLWithPath: db).deletingLastPathComponent().appendingPathComponent("policies")
            : URL(fileURLWithPath: learner.policiesDirectory)
    }
    /// nil: the default model (see `InstallLayout.defaultModelPath`).
    public var model: String?
    /// nil: one compute thread per core.
    public var threads: Int?
    public var logLevel = Logger.Level.info
    public var auth = APIKeys()
    public var chat = ChatConfiguration()
    public var engine = EngineConfiguration()
    public var http = HTTPSettings()
    public var learner = LearnerSettings()
    /// What loading noticed that the operator should hear about once logging runs (deprecated forms).
    public var warnings: [String] = []

    public init() {}

    /// Whether `host` only accepts connections from this machine: `localhost`, `::1` or an IPv4 address in
    /// 127.0.0.0/8 (four decimal parts, not a name that merely begins with "127.").
    public var isLoopbackHost: Bool {
        if host == "localhost" || host == "::1" { return true }
        let parts = host.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4, parts.allSatisfy({ !$0.isEmpty && $0.count <= 3 && $0.allSatisfy { ("0"..."9").contains($0) } && UInt8(String($0)) != nil }) else {
            return false
        }
        return parts[0] == "127"
    }

    /// The flags `proxima serve` has (each a key of the file).
    public enum Flag: String, CaseIterable {
        case host, port, db, model, threads, role
        case database = "database.url"
    }
}

extension ServeSettings: Decodable {
    public enum Key: String, CodingKey, CaseIterable {
        case host, port, db, database, model, threads, role, auth, chat, engine, http, learner
        case logLevel = "log_level"
    }

    /// `learner.enabled`, which `role` replaced: false meant a serving-only process.
    private struct DeprecatedLearnerSection: Decodable {
        enum Key: String, CodingKey { case enabled }
        var enabled: Bool?
        init(from decoder: any Decoder) throws {
            enabled = try decoder.container(keyedBy: Key.self).decodeIfPresent(Bool.self, forKey: .enabled)
        }
    }

    /// The keys of the `database` section.
    public enum DatabaseKey: String, CodingKey, CaseIterable { case url }

    /// The `database` section.
    private struct DatabaseSection: Decodable {
        var url: String?
        init(from decoder: any Decoder) throws {
            url = try decoder.container(keyedBy: DatabaseKey.self).decodeIfPresent(String.self, forKey: .url)
        }
    }

    public init(from decoder: any Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: Key.self)
        host = try c.decodeIfPresent(String.self, forKey: .host) ?? host
        port = try c.decodeIfPresent(Int.self, forKey: .port) ?? port
        db = try c.decodeIfPresent(String.self, forKey: .db) ?? db
        databaseURL = try c.decodeIfPresent(DatabaseSection.self, forKey: .database)?.url ?? databaseURL
        model = try c.decodeIfPresent(String.self, forKey: .model).flatMap { $0.isEmpty ? nil : $0 }
        threads = try c.decodeIfPresent(Int.self, forKey: .threads).flatMap { $0 == 0 ? nil : $0 }
        if let level = try c.decodeIfPresent(String.self, forKey: .logLevel) {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw DecodingError.dataCorruptedError(forKey: .logLevel, in: c, debugDescription:
                    "must be one of trace, debug, info, notice, warning, error, critical (got \(level))")
            }
            logLevel = parsed
        }
        auth = try c.decodeIfPresent(APIKeys.self, forKey: .auth) ?? auth
        chat = try c.decodeIfPresent(ChatConfiguration.self, forKey: .chat) ?? chat
        engine = try c.decodeIfPresent(EngineConfiguration.self, forKey: .engine) ?? engine
        http = try c.decodeIfPresent(HTTPSettings.self, forKey: .http) ?? http
        learner = try c.decodeIfPresent(LearnerSettings.self, forKey: .learner) ?? learner
        if let text = try c.decodeIfPresent(String.self, forKey: .role) {
            guard let parsed = ServeRole(rawValue: text.lowercased()) else {
                throw DecodingError.dataCorruptedError(forKey: .role, in: c, debugDescription:
                    "must be all (chat and the learner), replica (chat only) or learner (the learner only) (got \(text))")
            }
            role = parsed
        }
        if try c.decodeIfPresent(DeprecatedLearnerSection.self, forKey: .learner)?.enabled == false {
            if role == .all { role = .replica }
            warnings.append("learner.enabled: false is deprecated; write role: replica (a process that serves chat without the learner)")
        }
    }

    /// Every configuration key, dotted (`learner.steps`): what config/proxima.yaml documents.
    public static var keys: [String] {
        let top = Key.allCases.filter { ![.database, .auth, .chat, .engine, .http, .learner].contains($0) }.map(\.stringValue)
        return top + DatabaseKey.allCases.map { "database.\($0.stringValue)" } + APIKeys.Key.allCases.map { "auth.\($0.stringValue)" } + ChatConfiguration.Key.allCases.map { "chat.\($0.stringValue)" }
            + EngineConfiguration.Key.allCases.map { "engine.\($0.stringValue)" } + HTTPSettings.Key.allCases.map { "http.\($0.stringValue)" }
            + LearnerSettings.keys.map { "learner.\($0)" }
    }

    /// Why these settings cannot be used, or nil.
    public var problem: SettingsError? {
        if !(0...65535).contains(port) { return SettingsError(key: "port", "port must be in 0...65535 (got \(port))") }
        if !databaseURL.isEmpty && !(databaseURL.hasPrefix("postgres://") || databaseURL.hasPrefix("postgresql://")) {
            return SettingsError(key: "database.url", "database.url must be a postgres:// URL (postgres://user@host:5432/database), or empty for the SQLite file `db`")
        }
        if let threads, !(1...1024).contains(threads) { return SettingsError(key: "threads", "threads must be in 0...1024 (got \(threads))") }
        if !(1024...(1 << 30)).contains(http.bodyLimitBytes) {
            return SettingsError(key: "http.body_limit_bytes", "http.body_limit_bytes must be in 1024...\(1 << 30) (got \(http.bodyLimitBytes))")
        }
        if !(1...86_400).contains(http.idleTimeoutSeconds) {
            return SettingsError(key: "http.idle_timeout_seconds", "http.idle_timeout_seconds must be in 1...86400 (got \(http.idleTimeoutSeconds))")
        }
        if !(1...1_000_000).contains(http.maxConnections) {
            return SettingsError(key: "http.max_connections", "http.max_connections must be in 1...1000000 (got \(http.maxConnections))")
        }
        return chat.problem ?? engine.problem ?? learner.problem
    }
}

// MARK: - Loading

extension ServeSettings {
    /// Reads the settings. `file` nil means the default configuration file if there is one (see
    /// `InstallLayout.defaultConfigFile`); a file that was named but is missing is an error. Relative paths
    /// written in the file resolve against the file's folder; those given as flags or environment variables
    /// against the working directory. `environment` is the process's unless given (tests pass their own).
    public static func load(file: String?, flags: [Flag: String],
                            environment: [String: String] = ProcessInfo.processInfo.environment) async throws(SettingsError) -> ServeSettings {
        // Flags are read like environment variables (text converted to each key's type), ahead of the real ones.
        let flagValues = Dictionary(uniqueKeysWithValues: flags.map { (ConfigDecoder.environmentVariable($0.key.rawValue), $0.value) })
        let overrides: [any ConfigProvider] = [
            EnvironmentVariablesProvider(environmentVariables: flagValues).prefixKeys(with: "proxima"),
            EnvironmentVariablesProvider(environmentVariables: environment).prefixKeys(with: "proxima"),
        ]
        var providers = overrides
        var fileProvider: (any ConfigProvider)?
        let path = file ?? InstallLayout.defaultConfigFile()
        if let path {
            guard FileManager.default.fileExists(atPath: path) else { throw SettingsError(key: nil, "configuration file \(path) not found") }
            do {
                let provider = try await FileProvider<YAMLSnapshot>(filePath: FilePath(path))
                providers.append(provider)
                fileProvider = provider
            } catch {
                throw SettingsError(key: nil, "configuration file \(path) does not parse: \(error)")
            }
        }
        var settings: ServeSettings
        do {
            settings = try ServeSettings(from: ConfigDecoder(ConfigReader(providers: providers)))
        } catch let error as DecodingError {
            throw SettingsError(configuration: error)
        } catch {
            throw SettingsError(key: nil, "\(error)")
        }
        if let problem = settings.problem { throw problem }
        if let path, let fileProvider {
            settings.resolvePaths(writtenIn: path, file: ConfigReader(provider: fileProvider), overrides: ConfigReader(providers: overrides))
        }
        return settings
    }

    /// Makes the relative paths that come from the configuration file relative to its folder. A path that only
    /// exists relative to the working directory (how files were read before) is kept, with a deprecation warning.
    private mutating func resolvePaths(writtenIn path: String, file: ConfigReader, overrides: ConfigReader) {
        let folder = URL(fileURLWithPath: path).deletingLastPathComponent()
        func resolve(_ key: String, _ value: inout String) {
            guard !value.isEmpty, !value.hasPrefix("/"), overrides.string(forKey: ConfigKey(key)) == nil,
                  file.string(forKey: ConfigKey(key)) == value else { return }
            let resolved = folder.appendingPathComponent(value).standardizedFileURL.path
            let exists = { FileManager.default.fileExists(atPath: $0) }
            if !exists(resolved) && exists(value) {
                warnings.append("\(key): '\(value)' in \(path) was found relative to the working directory; paths in a "
                                + "configuration file are relative to its folder (write '\(URL(fileURLWithPath: value).standardizedFileURL.path)' "
                                + "or a path from \(folder.path)). The working-directory form is deprecated.")
                return
            }
            value = resolved
        }
        resolve("db", &db)
        var model = self.model ?? ""
        resolve("model", &model)
        self.model = model.isEmpty ? nil : model
        resolve("learner.gate_prompts", &learner.gatePrompts)
        // The old default named the repository's copy of the set that is now built in.
        if learner.gatePrompts.hasSuffix("prompts/dev.jsonl") && !FileManager.default.fileExists(atPath: learner.gatePrompts) {
            warnings.append("learner.gate_prompts: \(learner.gatePrompts) does not exist; using the built-in held-out prompts "
                            + "(the same set). Leave the key empty for them; naming prompts/dev.jsonl is deprecated.")
            learner.gatePrompts = ""
        }
        resolve("learner.policies_dir", &learner.policiesDirectory)
    }
}
