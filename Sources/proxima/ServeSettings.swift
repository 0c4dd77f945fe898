// ServeSettings: the settings of `proxima serve`, read with swift-configuration from flags, then PROXIMA_*
// environment variables, then the YAML file (config/proxima.yaml documents every key), then built-in defaults.

import Configuration
import Foundation
import HTTPAPI
import Logging
import Service
import SystemPackage

/// Everything `proxima serve` can be configured with. Defaults work on a fresh machine.
struct ServeSettings {
    var host = "127.0.0.1"
    var port = 8080
    var db = "data/proxima.sqlite"
    /// nil: the default model (see `ModelOptions.defaultModelPath`).
    var model: String?
    /// nil: one compute thread per core.
    var threads: Int?
    var logLevel = Logger.Level.info
    var keys = APIKeys()
    var chat = ChatConfiguration()
    var engine = EngineConfiguration()
    var bodyLimitBytes = 1 << 20
    var learner = LearnerSettings()

    /// Keys as written in the YAML file; the environment variable is PROXIMA_ + the key in upper case with
    /// dots as underscores (auth.user_keys → PROXIMA_AUTH_USER_KEYS, lists comma-separated).
    enum Key {
        static let host = "host", port = "port", db = "db", model = "model", threads = "threads", logLevel = "log_level"
        static let userKeys = "auth.user_keys", adminKeys = "auth.admin_keys"
        static let pairing = "chat.pairing", maxTokensDefault = "chat.max_tokens_default", maxTokensLimit = "chat.max_tokens_limit"
        static let maxActive = "engine.max_active_sequences", maxQueued = "engine.max_queued_requests"
        static let prefillChunk = "engine.prefill_chunk", prefixCacheTokens = "engine.prefix_cache_tokens"
        static let bodyLimit = "http.body_limit_bytes"
    }

    // MARK: Loading

    /// Reads the settings. `file` nil means config/proxima.yaml if it exists (in the working directory or the
    /// package the executable was built in); a file that was named but is missing is an error.
    static func load(file: String?, flags: [String: ConfigValue]) async throws -> ServeSettings {
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: Dictionary(uniqueKeysWithValues: flags.map { (AbsoluteConfigKey(ConfigKey($0.key)), $0.value) })),
            EnvironmentVariablesProvider().prefixKeys(with: "proxima"),
        ]
        if let path = file ?? ModelOptions.packageFile("config/proxima.yaml") {
            guard FileManager.default.fileExists(atPath: path) else { throw CLIError("configuration file \(path) not found") }
            do {
                providers.append(try await FileProvider<YAMLSnapshot>(filePath: FilePath(path)))
            } catch {
                throw CLIError("configuration file \(path) does not parse: \(error)")
            }
        }
        return try ServeSettings(reader: SettingsReader(ConfigReader(providers: providers)))
    }

    private init(reader: SettingsReader) throws {
        host = try reader.string(Key.host) ?? host
        port = try reader.int(Key.port, in: 0...65535) ?? port
        db = try reader.string(Key.db) ?? db
        model = try reader.string(Key.model).flatMap { $0.isEmpty ? nil : $0 }
        threads = try reader.int(Key.threads, in: 0...1024).flatMap { $0 == 0 ? nil : $0 }
        if let level = try reader.string(Key.logLevel) {
            guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
                throw CLIError("\(Key.logLevel) must be one of trace, debug, info, notice, warning, error, critical (got \(level))")
            }
            logLevel = parsed
        }
        keys = APIKeys(userKeys: try reader.strings(Key.userKeys) ?? [], adminKeys: try reader.strings(Key.adminKeys) ?? [])
        chat.pairing = try reader.bool(Key.pairing) ?? chat.pairing
        chat.maxTokensLimit = try reader.int(Key.maxTokensLimit, in: 1...1_000_000) ?? chat.maxTokensLimit
        // An unset default follows a lower limit; a default set above the limit is a mistake.
        chat.defaultMaxTokens = try reader.int(Key.maxTokensDefault, in: 1...1_000_000) ?? min(chat.defaultMaxTokens, chat.maxTokensLimit)
        engine.maxActiveSequences = try reader.int(Key.maxActive, in: 2...1024) ?? engine.maxActiveSequences
        engine.maxQueuedRequests = try reader.int(Key.maxQueued, in: 0...100_000) ?? engine.maxQueuedRequests
        engine.prefillChunk = try reader.int(Key.prefillChunk, in: 1...4096) ?? engine.prefillChunk
        engine.prefixCacheTokens = try reader.int(Key.prefixCacheTokens, in: 0...1_000_000) ?? engine.prefixCacheTokens
        bodyLimitBytes = try reader.int(Key.bodyLimit, in: 1024...(1 << 30)) ?? bodyLimitBytes
        learner = try LearnerSettings(reader: reader)
        guard chat.defaultMaxTokens <= chat.maxTokensLimit else {
            throw CLIError("\(Key.maxTokensDefault) (\(chat.defaultMaxTokens)) must not exceed \(Key.maxTokensLimit) (\(chat.maxTokensLimit))")
        }
    }

    /// Whether `host` only accepts connections from this machine.
    var isLoopbackHost: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}

// MARK: - Reading typed values

/// Typed reads that tell a missing key (nil) from a value of the wrong type (an error naming the key).
struct SettingsReader {
    let config: ConfigReader

    init(_ config: ConfigReader) { self.config = config }

    private func invalid(_ key: String, _ expected: String) -> CLIError {
        CLIError("configuration key \(key) (environment PROXIMA_\(key.uppercased().replacingOccurrences(of: ".", with: "_"))) "
                 + "must be \(expected) (got \(config.string(forKey: ConfigKey(key)) ?? "an unreadable value"))")
    }

    func string(_ key: String) throws -> String? { config.string(forKey: ConfigKey(key)) }

    func int(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let value = config.int(forKey: ConfigKey(key)) else {
            if config.string(forKey: ConfigKey(key)) != nil { throw invalid(key, "an integer in \(range)") }
            return nil
        }
        guard range.contains(value) else { throw invalid(key, "an integer in \(range)") }
        return value
    }

    func double(_ key: String, in range: ClosedRange<Double>) throws -> Double? {
        guard let value = config.double(forKey: ConfigKey(key)) ?? config.int(forKey: ConfigKey(key)).map(Double.init) else {
            if config.string(forKey: ConfigKey(key)) != nil { throw invalid(key, "a number in \(range)") }
            return nil
        }
        guard range.contains(value) else { throw invalid(key, "a number in \(range)") }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard let value = config.bool(forKey: ConfigKey(key)) else {
            if config.string(forKey: ConfigKey(key)) != nil { throw invalid(key, "true or false") }
            return nil
        }
        return value
    }

    func strings(_ key: String) throws -> [String]? {
        guard let values = config.stringArray(forKey: ConfigKey(key), isSecret: true) else {
            if let one = config.string(forKey: ConfigKey(key), isSecret: true) { return one.isEmpty ? [] : [one] }
            return nil
        }
        return values.filter { !$0.isEmpty }
    }
}
