// PolicyFileStore: the port for the files of learned versions — each version's whole ensemble state and its
// merged adapter, stored once under a name derived from their content and verified against their sha256 when
// read back. ModelFiles' `PolicyDirectory` keeps them on disk; `InMemoryPolicyFiles` is the twin for tests.

import Foundation
import Learning
import ProximaCore

public protocol PolicyFileStore: Sendable {
    /// Stores the files of `ensemble` (the state, and the merged adapter for `baseModelName`) unless stored
    /// already; returns them as the store records them (paths relative to this file store, sha256).
    func store(_ ensemble: LoRAEnsemble, baseModelName: String) throws -> (adapter: StoredFile, state: StoredFile)
    /// The ensemble in `state`, verified against its sha256: `RegistryError.missingFile` or `.corruptFile` when
    /// it cannot be trusted.
    func ensemble(in state: StoredFile, version: String) throws -> LoRAEnsemble
    /// Checks that `file` is there and matches its sha256 (the same errors).
    func verify(_ file: StoredFile, version: String) throws
    /// Whether the files stored with `state` are there (not whether they are intact: `verify` reads them).
    func exists(_ state: StoredFile) -> Bool
    /// Removes the files stored with `state`; false when they were gone already.
    func remove(_ state: StoredFile) throws -> Bool
    /// Removes what a crash can leave: half-written files and anything no file of `referenced` belongs to.
    /// Returns the names removed.
    func removeLeftovers(keeping referenced: [StoredFile]) throws -> [String]
    /// The bytes of the state file `state`, verified: what is shared with processes on other disks
    /// (`SharedVersionFiles`); the state is the whole version, the adapter is made from it.
    func stateBytes(_ state: StoredFile, version: String) throws -> [UInt8]
    /// Installs a version from the bytes of its state file fetched from elsewhere: the state as given (checked
    /// against `state`'s sha256), the merged adapter made from it for `baseModelName` and checked against
    /// `adapter`'s sha256. `RegistryError.corruptFile` when either differs; nothing is left behind then.
    func install(stateBytes: [UInt8], state: StoredFile, adapter: StoredFile?, baseModelName: String, version: String) throws
}

/// The twin of `PolicyDirectory`: ensembles kept in memory (as copies), named by a counter. Its "state bytes" are
/// the name of an ensemble in a table the process's twins share, so that twins standing for separate disks
/// (replicas in one test process) can pass versions to each other through `SharedVersionFiles`.
public final class InMemoryPolicyFiles: PolicyFileStore, @unchecked Sendable {
    private let lock = NSLock()
    private var ensembles: [String: LoRAEnsemble] = [:]
    private nonisolated(unsafe) static var next = 0
    private nonisolated(unsafe) static var published: [String: LoRAEnsemble] = [:]
    private static let tableLock = NSLock()

    public init() {}

    /// The names of the versions' files held now.
    public var names: [String] { lock.withLock { ensembles.keys.sorted() } }

    public func store(_ ensemble: LoRAEnsemble, baseModelName: String) throws -> (adapter: StoredFile, state: StoredFile) {
        let hash = Self.tableLock.withLock {
            Self.next += 1
            let hash = String(repeating: "0", count: 48) + String(format: "%016x", Self.next)
            Self.published[hash] = ensemble.copy()
            return hash
        }
        lock.withLock { ensembles[hash] = ensemble.copy() }
        return (StoredFile(path: "\(hash)/adapter", sha256: hash), StoredFile(path: "\(hash)/state", sha256: hash))
    }

    public func stateBytes(_ state: StoredFile, version: String) throws -> [UInt8] {
        try verify(state, version: version)
        return Array(state.sha256.utf8)
    }

    public func install(stateBytes: [UInt8], state: StoredFile, adapter: StoredFile?, baseModelName: String, version: String) throws {
        let name = String(decoding: stateBytes, as: UTF8.self)
        guard name == state.sha256, let ensemble = Self.tableLock.withLock({ Self.published[name] }) else {
            throw RegistryError.corruptFile(version: version, path: state.path, expected: state.sha256, actual: name)
        }
        lock.withLock { ensembles[name] = ensemble.copy() }
    }

    public func ensemble(in state: StoredFile, version: String) throws -> LoRAEnsemble {
        guard let ensemble = lock.withLock({ ensembles[state.sha256] }) else {
            throw RegistryError.missingFile(version: version, path: state.path)
        }
        return ensemble.copy()
    }

    public func verify(_ file: StoredFile, version: String) throws {
        guard lock.withLock({ ensembles[file.sha256] != nil }) else { throw RegistryError.missingFile(version: version, path: file.path) }
    }

    public func exists(_ state: StoredFile) -> Bool { lock.withLock { ensembles[state.sha256] != nil } }

    public func remove(_ state: StoredFile) throws -> Bool {
        lock.withLock { ensembles.removeValue(forKey: state.sha256) != nil }
    }

    public func removeLeftovers(keeping referenced: [StoredFile]) throws -> [String] {
        let kept = Set(referenced.map(\.sha256))
        return lock.withLock {
            let gone = ensembles.keys.filter { !kept.contains($0) }.sorted()
            for name in gone { ensembles[name] = nil }
            return gone
        }
    }
}
