// SettingsError: a setting that cannot be used — from the configuration file, an environment variable, a flag
// or a request's overrides — said in one sentence that names its key.

/// Settings that cannot be used, in one sentence that names the key.
public struct SettingsError: Error, Equatable, CustomStringConvertible {
    /// The offending key (snake_case), when one is to blame.
    public var key: String?
    public var description: String

    public init(key: String?, _ description: String) {
        self.key = key
        self.description = description
    }
}
