// SettingsTests: one settings type per concern, one default each. config/proxima.yaml documents exactly the
// keys the types decode and its values are the defaults; environment variables and flags override the file;
// wrong values are refused naming the key; relative paths in a file resolve against the file's folder; phase
// overrides (an operator's, the CLI's) go through one function.

import Foundation
import HTTPAPI
import Learning
import Llama
import ProximaApp
import ProximaCore
import Service
import TestSupport
import XCTest

final class SettingsTests: XCTestCase {
    private let repositoryConfig = TestPaths.root.appendingPathComponent("config/proxima.yaml").path

    /// The dotted keys written in a YAML file of sections one level deep (`key: value` or `section:` then
    /// indented `key: value` lines; comments and blank lines skipped).
    private func documentedKeys(_ path: String) throws -> [String] {
        var keys: [String] = []
        var section: String?
        for line in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false) {
            let trimmed = line.drop { $0 == " " }
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = String(trimmed[..<colon])
            let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if line.hasPrefix(" ") {
                keys.append("\(try XCTUnwrap(section, "an indented key outside a section: \(line)")).\(key)")
            } else if value.isEmpty {
                section = key
            } else {
                section = nil
                keys.append(key)
            }
        }
        return keys
    }

    func testTheShippedFileDocumentsEveryKeyAndNothingElse() throws {
        let documented = try documentedKeys(repositoryConfig)
        XCTAssertEqual(documented.count, Set(documented).count, "a key is written twice")
        XCTAssertEqual(Set(documented).subtracting(ServeSettings.keys), [], "keys in config/proxima.yaml no settings type reads")
        XCTAssertEqual(Set(ServeSettings.keys).subtracting(documented), [], "settings config/proxima.yaml does not document")
    }

    func testTheShippedFileHoldsTheDefaults() async throws {
        let loaded = try await ServeSettings.load(file: repositoryConfig, flags: [:], environment: [:])
        var expected = ServeSettings()
        // The one deliberate difference: the repository's database lives in data/ beside config/.
        expected.db = TestPaths.root.appendingPathComponent("data/proxima.sqlite").standardizedFileURL.path
        XCTAssertEqual(loaded.host, expected.host)
        XCTAssertEqual(loaded.port, expected.port)
        XCTAssertEqual(loaded.db, expected.db)
        XCTAssertNil(loaded.model)
        XCTAssertNil(loaded.threads)
        XCTAssertEqual(loaded.logLevel, expected.logLevel)
        XCTAssertEqual(loaded.auth, expected.auth)
        XCTAssertEqual(loaded.chat, expected.chat)
        XCTAssertEqual(loaded.engine, expected.engine)
        XCTAssertEqual(loaded.http, expected.http)
        XCTAssertEqual(loaded.learner, expected.learner)
        XCTAssertEqual(loaded.role, .all)
        XCTAssertEqual(loaded.warnings, [])
    }

    func testTheRoleComesFromTheFlagTheFileOrTheOldLearnerSwitch() async throws {
        let folder = try temporaryFolder()
        let file = folder.appendingPathComponent("p.yaml").path
        try "role: learner\n".write(toFile: file, atomically: true, encoding: .utf8)
        var settings = try await ServeSettings.load(file: file, flags: [:], environment: [:])
        XCTAssertEqual(settings.role, .learner)
        settings = try await ServeSettings.load(file: file, flags: [.role: "replica"], environment: [:])
        XCTAssertEqual(settings.role, .replica)
        do {
            _ = try await ServeSettings.load(file: file, flags: [.role: "primary"], environment: [:])
            XCTFail("an unknown role is refused")
        } catch {
            XCTAssertTrue("\(error)".contains("role"), "\(error)")
            XCTAssertTrue("\(error)".contains("replica"), "the message lists the roles: \(error)")
        }
        // `learner.enabled: false`, the old way to serve without the learner, still does, with a warning.
        try "learner:\n  enabled: false\n".write(toFile: file, atomically: true, encoding: .utf8)
        settings = try await ServeSettings.load(file: file, flags: [:], environment: [:])
        XCTAssertEqual(settings.role, .replica)
        XCTAssertTrue(settings.warnings.contains { $0.contains("role: replica") }, "\(settings.warnings)")
    }

    func testFlagsBeatEnvironmentWhichBeatsTheFile() async throws {
        let folder = try temporaryFolder()
        let file = folder.appendingPathComponent("p.yaml").path
        try "port: 1000\nlearner:\n  steps: 3\n  rank: 4\n  targets: [q, v]\nauth:\n  user_keys: [a, b]\n".write(toFile: file, atomically: true, encoding: .utf8)
        var settings = try await ServeSettings.load(file: file, flags: [:], environment: [:])
        XCTAssertEqual(settings.port, 1000)
        XCTAssertEqual(settings.learner.phase.steps, 3)
        XCTAssertEqual(settings.learner.phase.lora.rank, 4)
        XCTAssertEqual(settings.learner.phase.lora.alpha, 8, "alpha defaults to 2 · rank")
        XCTAssertEqual(settings.learner.phase.lora.targets, [.query, .value])
        XCTAssertEqual(settings.auth.userKeys, ["a", "b"])
        settings = try await ServeSettings.load(file: file, flags: [:], environment: [
            "PROXIMA_PORT": "2000", "PROXIMA_LEARNER_STEPS": "5", "PROXIMA_AUTH_USER_KEYS": "x,y,z", "PROXIMA_LEARNER_REFERENCE": "hard:4",
        ])
        XCTAssertEqual(settings.port, 2000)
        XCTAssertEqual(settings.learner.phase.steps, 5)
        XCTAssertEqual(settings.learner.phase.reference, .hardUpdate(tau: 4))
        XCTAssertEqual(settings.auth.userKeys, ["x", "y", "z"])
        settings = try await ServeSettings.load(file: file, flags: [.port: "3000"], environment: ["PROXIMA_PORT": "2000"])
        XCTAssertEqual(settings.port, 3000)
    }

    func testWrongValuesAreRefusedNamingTheKey() async throws {
        let cases: [([String: String], String)] = [
            (["PROXIMA_PORT": "eighty"], "configuration key port (environment PROXIMA_PORT) must be an integer (got eighty)"),
            (["PROXIMA_PORT": "70000"], "port must be in 0...65535 (got 70000)"),
            (["PROXIMA_LEARNER_LOSS": "hinge"], "learner.loss"),
            (["PROXIMA_LEARNER_REFERENCE": "soft"], "reference must be behavior, initial, soft:<alpha> or hard:<tau> (got soft)"),
            (["PROXIMA_LEARNER_TARGETS": "q,zz"], "unknown LoRA target 'zz'"),
            (["PROXIMA_LEARNER_SIMULATOR": "remote:ftp://judge"], "learner.simulator: remote: needs an http(s) URL"),
            (["PROXIMA_LEARNER_SIMULATOR": "oracle"], "learner.simulator: unknown judge 'oracle' (known: rubric, llm:<gguf path>"),
            (["PROXIMA_CHAT_PAIRING": "maybe"], "configuration key chat.pairing (environment PROXIMA_CHAT_PAIRING) must be true or false"),
            (["PROXIMA_CHAT_MAX_TOKENS_DEFAULT": "4096"], "chat.max_tokens_default (4096) must be in 1...chat.max_tokens_limit (2048)"),
            (["PROXIMA_LOG_LEVEL": "loud"], "log_level"),
            (["PROXIMA_LEARNER_BETA": "0"], "beta must be positive"),
        ]
        for (environment, expected) in cases {
            do {
                _ = try await ServeSettings.load(file: nil, flags: [:], environment: environment)
                XCTFail("\(environment) was accepted")
            } catch {
                XCTAssertTrue(error.description.contains(expected), "\(environment): \(error.description)")
            }
        }
    }

    func testAMissingOrBrokenFileIsNamed() async throws {
        do {
            _ = try await ServeSettings.load(file: "/nonexistent/proxima.yaml", flags: [:], environment: [:])
            XCTFail("a missing file was accepted")
        } catch {
            XCTAssertEqual(error.description, "configuration file /nonexistent/proxima.yaml not found")
        }
        let file = try temporaryFolder().appendingPathComponent("bad.yaml").path
        try "port: [1, 2\n".write(toFile: file, atomically: true, encoding: .utf8)
        do {
            _ = try await ServeSettings.load(file: file, flags: [:], environment: [:])
            XCTFail("a broken file was accepted")
        } catch {
            XCTAssertTrue(error.description.hasPrefix("configuration file \(file) does not parse"), error.description)
        }
    }

    func testRelativePathsInAFileAreRelativeToTheFile() async throws {
        let folder = try temporaryFolder()
        let configFolder = folder.appendingPathComponent("etc")
        try FileManager.default.createDirectory(at: configFolder, withIntermediateDirectories: true)
        let file = configFolder.appendingPathComponent("proxima.yaml").path
        try "db: ../var/p.sqlite\nmodel: models/m.gguf\nlearner:\n  policies_dir: versions\n".write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try await ServeSettings.load(file: file, flags: [:], environment: [:])
        XCTAssertEqual(settings.db, folder.appendingPathComponent("var/p.sqlite").standardizedFileURL.path)
        XCTAssertEqual(settings.model, configFolder.appendingPathComponent("models/m.gguf").standardizedFileURL.path)
        XCTAssertEqual(settings.learner.policiesDirectory, configFolder.appendingPathComponent("versions").standardizedFileURL.path)
        // A flag or a variable is relative to the working directory, as given.
        let flagged = try await ServeSettings.load(file: file, flags: [.db: "here.sqlite"], environment: ["PROXIMA_MODEL": "m.gguf"])
        XCTAssertEqual(flagged.db, "here.sqlite")
        XCTAssertEqual(flagged.model, "m.gguf")
    }

    func testAFileRelativeToTheWorkingDirectoryStillWorksWithAWarning() async throws {
        let folder = try temporaryFolder()
        let prompts = "proxima-prompts-\(UUID().uuidString).jsonl"
        let inWorkingDirectory = FileManager.default.currentDirectoryPath + "/" + prompts
        try "{\"prompt\": \"p\"}\n".write(toFile: inWorkingDirectory, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: inWorkingDirectory) }
        let file = folder.appendingPathComponent("p.yaml").path
        try "learner:\n  gate_prompts: \(prompts)\n".write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try await ServeSettings.load(file: file, flags: [:], environment: [:])
        XCTAssertEqual(settings.learner.gatePrompts, prompts)
        XCTAssertEqual(settings.warnings.count, 1)
        XCTAssertTrue(settings.warnings[0].contains("deprecated"), settings.warnings[0])
    }

    /// A configuration file from before the prompts were built in still starts, with a warning.
    func testTheOldGatePromptsDefaultFallsBackToTheBuiltInSet() async throws {
        let file = try temporaryFolder().appendingPathComponent("old.yaml").path
        try "learner:\n  gate_prompts: prompts/dev.jsonl\n".write(toFile: file, atomically: true, encoding: .utf8)
        let settings = try await ServeSettings.load(file: file, flags: [:], environment: [:])
        // From the repository root the working-directory copy is found (deprecated); elsewhere the built-in set.
        XCTAssertEqual(settings.warnings.count, 1, "\(settings.warnings)")
        XCTAssertEqual(try settings.learner.configuration(labeller: nil).gatePrompts, PromptSet.dev)
    }

    func testOnlyLoopbackAddressesCountAsLoopback() {
        for (host, loopback) in [("127.0.0.1", true), ("127.1.2.3", true), ("localhost", true), ("::1", true),
                                 ("127.evil.example", false), ("127.0.0.1.example", false), ("0.0.0.0", false),
                                 ("128.0.0.1", false), ("127.0.0.256", false), ("127.0.0", false), ("example.com", false)] {
            var settings = ServeSettings()
            settings.host = host
            XCTAssertEqual(settings.isLoopbackHost, loopback, host)
        }
    }

    func testPhaseOverridesGoThroughOneFunction() throws {
        let defaults = PhaseSettings()
        let changed = try defaults.applying(["steps": 3, "rank": 4, "learning_rate": 0.001, "targets": ["q", "down"], "reference": "soft:0.5"])
        XCTAssertEqual(changed.steps, 3)
        XCTAssertEqual(changed.lora, LoRAConfiguration(rank: 4, alpha: 8, targets: [.query, .down]), "rank without alpha: alpha = 2 · rank")
        XCTAssertEqual(changed.optimizer.learningRate, 0.001)
        XCTAssertEqual(changed.reference, .softUpdate(alpha: 0.5))
        XCTAssertEqual(changed.batchSize, defaults.batchSize)
        XCTAssertEqual(try defaults.applying(["rank": 4, "alpha": 1]).lora.alpha, 1)
        XCTAssertEqual(try defaults.applying([:]), defaults)
        // The phase row keeps the settings in this form; they read back unchanged.
        XCTAssertEqual(try JSONObject(encoding: changed).decode(PhaseSettings.self), changed)

        let refusals: [(JSONObject, String?, String)] = [
            (["stepz": 3], "stepz", "unknown phase setting 'stepz'"),
            (["steps": "many"], "steps", "steps has the wrong type"),
            (["steps": 0], nil, "steps must be in 1...100000"),
            (["loss": "hinge"], "loss", "loss"),
            (["targets": ["q", "w"]], "targets", "unknown LoRA target 'w'"),
            (["reference": "hard:x"], "reference", "reference must be"),
        ]
        for (overrides, key, message) in refusals {
            XCTAssertThrowsError(try defaults.applying(overrides), "\(overrides)") { error in
                let error = error as! SettingsError
                XCTAssertEqual(error.key, key, "\(overrides)")
                XCTAssertTrue(error.description.contains(message), "\(overrides): \(error)")
            }
        }
    }

    private func temporaryFolder() throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-settings-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: folder) }
        return folder
    }
}
