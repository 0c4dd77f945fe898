// PoliciesCommand: `proxima policies list|activate --db FILE` — the policy versions of a database and which
// serves, offline (with the server stopped): each version's files checked against their sha256, and the
// serving version changed by hand (a roll back when a version's files are damaged, say).

import ArgumentParser
import Foundation
import ModelFiles
import ProximaCore
import Service
import Store

struct PoliciesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "List the policy versions of a database, or choose the one that serves (with the server stopped).",
        subcommands: [List.self, Activate.self])

    struct Location: ParsableArguments {
        @Option(help: "The SQLite database.") var db: String
        @Option(name: .customLong("policies-dir"), help: "Where the versions' files are (default: policies/ beside the database).")
        var policiesDir: String?

        func open() throws -> (AppDatabase, SQLiteProximaStore, PolicyDirectory) {
            guard FileManager.default.fileExists(atPath: db) else { throw CLIError("no database at \(db)") }
            let database = try AppDatabase.open(path: db)
            let folder = policiesDir.map { URL(fileURLWithPath: $0) }
                ?? URL(fileURLWithPath: db).deletingLastPathComponent().appendingPathComponent("policies")
            return (database, SQLiteProximaStore(database: database), PolicyDirectory(folder))
        }
    }

    /// "intact", or why the version's files cannot be used.
    static func check(_ version: PolicyVersionRecord, _ files: PolicyDirectory) -> String {
        do {
            for file in [version.adapter, version.state].compactMap({ $0 }) { try files.verify(file, version: version.id) }
            return version.state == nil ? "base model" : "intact"
        } catch {
            return "\(error)"
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every version: status, parent, phase, and whether its files are intact.")
        @OptionGroup var location: Location

        func run() async throws {
            let (database, store, files) = try location.open()
            defer { try? database.close() }
            let formatter = ISO8601DateFormatter()
            for v in try await store.policyVersions() {
                print([v.id, v.status.rawValue, "parent \(v.parent ?? "-")", v.phaseID.map { "phase \($0)" } ?? "-",
                       formatter.string(from: v.createdAt), PoliciesCommand.check(v, files)].joined(separator: "  "))
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a version the serving one (its files must be intact).")
        @OptionGroup var location: Location
        @Argument(help: "The version, e.g. v0.") var id: String

        func run() async throws {
            let (database, store, files) = try location.open()
            defer { try? database.close() }
            guard let version = try await store.policyVersion(id: id) else { throw CLIError("no version \(id) in \(location.db)") }
            let state = PoliciesCommand.check(version, files)
            guard state == "intact" || state == "base model" else { throw CLIError("\(id) cannot serve: \(state)") }
            let change = try await store.setServing(id)
            print("\(change.serving.id) serves\(change.retired.map { " (\($0.id) retired)" } ?? "")")
        }
    }
}
