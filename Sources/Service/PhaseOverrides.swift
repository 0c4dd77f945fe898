// PhaseOverrides: the one function that applies overrides — an operator's `POST /admin/phases` body, the
// options of `proxima train` and `proxima experiment` — to phase settings, in PhaseSettings' flat snake_case form.

import Foundation
import Learning
import ProximaCore

extension PhaseSettings {
    /// These settings with each key of `overrides` replacing its value. `rank` without `alpha` gives alpha
    /// 2 · rank. Unknown keys, values of the wrong type and settings that cannot train are refused.
    public func applying(_ overrides: JSONObject) throws(SettingsError) -> PhaseSettings {
        let known = Set(Key.allCases.map(\.stringValue))
        if let unknown = overrides.keys.sorted().first(where: { !known.contains($0) }) {
            throw SettingsError(key: unknown, "unknown phase setting '\(unknown)' (known: \(known.sorted().joined(separator: ", ")))")
        }
        let settings: PhaseSettings
        do {
            var merged = try JSONObject(encoding: self)
            if overrides[Key.rank.stringValue] != nil && overrides[Key.alpha.stringValue] == nil { merged[Key.alpha.stringValue] = nil }
            merged.merge(overrides) { $1 }
            settings = try JSONValue.object(merged).decode(as: PhaseSettings.self)
        } catch let error as DecodingError {
            throw Self.settingsError(error)
        } catch {
            throw SettingsError(key: nil, "\(error)")
        }
        if let problem = settings.problem { throw SettingsError(key: nil, problem) }
        return settings
    }

    /// A decoding failure as one sentence naming the key.
    static func settingsError(_ error: DecodingError) -> SettingsError {
        switch error {
        case let .typeMismatch(type, context), let .valueNotFound(type, context):
            let key = context.codingPath.first?.stringValue
            return SettingsError(key: key, "\(key ?? "a phase setting") has the wrong type (expected \(type))")
        case let .dataCorrupted(context):
            let key = context.codingPath.first?.stringValue
            return SettingsError(key: key, "\(key.map { "\($0): " } ?? "")\(context.debugDescription)")
        case let .keyNotFound(key, _):
            return SettingsError(key: key.stringValue, "\(key.stringValue) is missing")
        @unknown default:
            return SettingsError(key: nil, "\(error)")
        }
    }
}
