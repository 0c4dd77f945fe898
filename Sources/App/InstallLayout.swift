// InstallLayout: where the executable finds the files it may use but does not need — the default model and
// the default configuration file — whether it runs from the package it was built in (.build/<triple>/release/
// proxima, reached through the .build/release link) or from an installed prefix (PREFIX/bin/proxima with
// PREFIX/share/proxima/ and PREFIX/etc/proxima/, as ops/install lays it out). Everything else it needs is built in.

import Foundation
import Service

public enum InstallLayout {
    /// The executable's directory, symlinks resolved.
    static var executableDirectory: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
    }

    /// The package the executable was built in: the parent of the `.build` (or `.build-*`) folder it lies in.
    static var packageRoot: URL? {
        var url = executableDirectory
        while url.pathComponents.count > 1 {
            if url.lastPathComponent.hasPrefix(".build") { return url.deletingLastPathComponent() }
            url.deleteLastPathComponent()
        }
        return nil
    }

    /// PREFIX/share/proxima for an executable installed as PREFIX/bin/proxima.
    static var shareDirectory: URL {
        executableDirectory.deletingLastPathComponent().appendingPathComponent("share/proxima")
    }

    /// `path` relative to the working directory when it exists there, else in the package the executable was
    /// built in, else in the installed share/proxima; nil when in none.
    static func find(_ path: String) -> String? {
        let candidates = [path] + [packageRoot, shareDirectory].compactMap { $0?.appendingPathComponent(path).path }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }

    /// The configuration file read when none is named: config/proxima.yaml in the working directory or the
    /// package, else PREFIX/etc/proxima/proxima.yaml of an installed executable; nil when there is none
    /// (the built-in defaults apply).
    public static func defaultConfigFile() -> String? {
        if let path = find("config/proxima.yaml") { return path }
        let installed = executableDirectory.deletingLastPathComponent().appendingPathComponent("etc/proxima/proxima.yaml").path
        return FileManager.default.fileExists(atPath: installed) ? installed : nil
    }

    /// The default model's file name (ops/run fetches it into models/; ops/install copies it to share/proxima/models/).
    public static let defaultModelFile = "SmolLM2-135M-Instruct.Q4_1.gguf"

    /// The default model: models/<file> in the working directory, in the package this executable was built in,
    /// or in share/proxima/ of the prefix it was installed to.
    public static func defaultModelPath() throws(SettingsError) -> String {
        if let path = find("models/\(defaultModelFile)") { return path }
        throw SettingsError(key: "model", "no model given and the default model is missing: run `ops/run …` once to fetch it, "
                            + "or pass --model PATH (or set model: in the configuration file)")
    }
}
