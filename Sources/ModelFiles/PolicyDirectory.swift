// PolicyDirectory: the policy file store on disk. Each learned version is a directory named by the sha256 of
// its ensemble state, holding the state (zlib) and the merged adapter as a PEFT directory; it is written into a
// temporary directory that is renamed into place (and the parent fsynced), so a crash leaves a whole version
// or a `.tmp-` leftover, never half of one.

import Foundation
import Learning
import ProximaCore
import Service

public struct PolicyDirectory: PolicyFileStore {
    public let url: URL

    public init(_ url: URL) { self.url = url }

    public func store(_ ensemble: LoRAEnsemble, baseModelName: String) throws -> (adapter: StoredFile, state: StoredFile) {
        let files = PolicyFiles(ensemble, baseModel: baseModelName)
        let name = SHA256.hex(files.state)
        try write(files, named: name)
        return (StoredFile(path: "\(name)/\(PolicyFiles.adapterFile)", sha256: SHA256.hex(files.adapter)),
                StoredFile(path: "\(name)/\(PolicyFiles.stateFile)", sha256: name))
    }

    /// Writes `files` as the directory `name` unless it exists: into a temporary directory renamed into place.
    private func write(_ files: PolicyFiles, named name: String) throws {
        let final = url.appendingPathComponent(name)
        let fm = FileManager.default
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
        guard !fm.fileExists(atPath: final.path) else { return }
        let temporary = url.appendingPathComponent(".tmp-\(UUID().uuidString)")
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        do {
            try files.write(to: temporary)
            try fm.moveItem(at: temporary, to: final)
            Self.sync(url)
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
    }

    public func stateBytes(_ state: StoredFile, version: String) throws -> [UInt8] {
        try verified(state, version: version)
    }

    public func install(stateBytes: [UInt8], state: StoredFile, adapter: StoredFile?, baseModelName: String, version: String) throws {
        let where_ = "shared copy of \(state.path)"
        let hash = SHA256.hex(stateBytes)
        guard hash == state.sha256, let name = Self.directoryName(state), name == hash else {
            throw RegistryError.corruptFile(version: version, path: where_, expected: state.sha256, actual: hash)
        }
        if exists(state) { return }
        let ensemble = try EnsembleStateFile.decode(stateBytes, path: where_)
        let files = PolicyFiles(ensemble, baseModel: baseModelName, state: stateBytes)
        if let adapter, SHA256.hex(files.adapter) != adapter.sha256 {
            throw RegistryError.corruptFile(version: version, path: "\(where_) (adapter made from it)", expected: adapter.sha256,
                                            actual: SHA256.hex(files.adapter))
        }
        try write(files, named: name)
    }

    public func ensemble(in state: StoredFile, version: String) throws -> LoRAEnsemble {
        try EnsembleStateFile.decode(try verified(state, version: version), path: url.appendingPathComponent(state.path).path)
    }

    public func verify(_ file: StoredFile, version: String) throws {
        _ = try verified(file, version: version)
    }

    /// The bytes of `file`, checked against its sha256.
    private func verified(_ file: StoredFile, version: String) throws -> [UInt8] {
        let path = url.appendingPathComponent(file.path).path
        guard let data = FileManager.default.contents(atPath: path) else { throw RegistryError.missingFile(version: version, path: path) }
        let bytes = [UInt8](data)
        let hash = SHA256.hex(bytes)
        guard hash == file.sha256 else { throw RegistryError.corruptFile(version: version, path: path, expected: file.sha256, actual: hash) }
        return bytes
    }

    public func exists(_ state: StoredFile) -> Bool {
        guard let name = Self.directoryName(state) else { return false }
        return FileManager.default.fileExists(atPath: url.appendingPathComponent(name).path)
    }

    public func remove(_ state: StoredFile) throws -> Bool {
        guard let name = Self.directoryName(state) else { return false }
        let directory = url.appendingPathComponent(name)
        guard FileManager.default.fileExists(atPath: directory.path) else { return false }
        try FileManager.default.removeItem(at: directory)
        return true
    }

    public func removeLeftovers(keeping referenced: [StoredFile]) throws -> [String] {
        let fm = FileManager.default
        try fm.createDirectory(at: url, withIntermediateDirectories: true)
        let kept = Set(referenced.compactMap(Self.directoryName))
        var removed: [String] = []
        for entry in try fm.contentsOfDirectory(atPath: url.path) where entry.hasPrefix(".tmp-") || !kept.contains(entry) {
            try? fm.removeItem(at: url.appendingPathComponent(entry))
            removed.append(entry)
        }
        return removed
    }

    /// The directory of a version's files (the first component of its state file's path).
    private static func directoryName(_ file: StoredFile) -> String? {
        file.path.split(separator: "/").first.map(String.init)
    }

    /// fsync of a directory, so a rename inside it survives a crash.
    private static func sync(_ url: URL) {
        let fd = open(url.path, O_RDONLY)
        if fd >= 0 { fsync(fd); close(fd) }
    }
}
