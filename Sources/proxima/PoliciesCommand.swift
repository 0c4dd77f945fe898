// PoliciesCommand: `proxima policies list|activate` — the policy versions of a database and which serves, each
// version's files checked against their sha256, and the serving version changed by hand (a roll back when a
// version's files are damaged, say). On SQLite with the server stopped; on PostgreSQL at any time (the servers
// follow the change as they follow the admin API's).

import ArgumentParser
import Foundation
import Logging
import ModelFiles
import ProximaCore
import Service

struct PoliciesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "policies",
        abstract: "List the policy versions of a database, or choose the one that serves (SQLite: with the server stopped).",
        subcommands: [List.self, Activate.self])

    struct Location: ParsableArguments {
        @OptionGroup var database: DatabaseOptions
        @Option(name: .customLong("policies-dir"), help: "Where the versions' files are (default: the configuration's, else policies/ beside the database).")
        var policiesDir: String?

        /// The open store, the versions' files on this disk, and a way to say whether one is intact.
        func open() async throws -> (OpenedStore, FileCheck) {
            let settings = try await database.settings()
            let opened = try await OpenedStore.open(settings, logger: Logger(label: "proxima"))
            let files = PolicyDirectory(policiesDir.map { URL(fileURLWithPath: $0) } ?? settings.policiesDirectoryURL)
            return (opened, FileCheck(files: files, shared: opened.sharedFiles))
        }
    }

    /// Whether a version's files can serve: on this disk (each checked against its sha256), or else, with
    /// PostgreSQL, in the database (a server fetches and checks them when it needs them).
    struct FileCheck {
        let files: PolicyDirectory
        let shared: (any SharedVersionFiles)?

        /// "intact", "base model", "in the database", or why the version's files cannot be used.
        func state(of version: PolicyVersionRecord) async -> String {
            guard let state = version.state else { return "base model" }
            do {
                if !files.exists(state), let shared, try await shared.storedFiles([state.sha256]).contains(state.sha256) {
                    return "in the database"
                }
                for file in [version.adapter, version.state].compactMap({ $0 }) { try files.verify(file, version: version.id) }
                return "intact"
            } catch {
                return "\(error)"
            }
        }

        static let usable: Set<String> = ["intact", "base model", "in the database"]
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Every version: status, parent, phase, and whether its files are intact.")
        @OptionGroup var location: Location

        func run() async throws {
            let (opened, check) = try await location.open()
            try await opened.closing { opened in
                let formatter = ISO8601DateFormatter()
                for v in try await opened.store.policyVersions() {
                    print([v.id, v.status.rawValue, "parent \(v.parent ?? "-")", v.phaseID.map { "phase \($0)" } ?? "-",
                           formatter.string(from: v.createdAt), await check.state(of: v)].joined(separator: "  "))
                }
            }
        }
    }

    struct Activate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a version the serving one (its files must be intact).")
        @OptionGroup var location: Location
        @Argument(help: "The version, e.g. v0.") var id: String

        func run() async throws {
            let (opened, check) = try await location.open()
            try await opened.closing { opened in
                guard let version = try await opened.store.policyVersion(id: id) else { throw CLIError("no version \(id) in \(opened.location)") }
                let state = await check.state(of: version)
                guard FileCheck.usable.contains(state) else { throw CLIError("\(id) cannot serve: \(state)") }
                let change = try await opened.store.setServing(id)
                print("\(change.serving.id) serves\(change.retired.map { " (\($0.id) retired)" } ?? "")")
            }
        }
    }
}
