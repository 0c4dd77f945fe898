// TestPaths: where tests find the repository, ../shared (goldens, data) and the real default model.
// The real model is fetched by ops/fetch-model when missing; a test that needs it fails if that fails.

import Foundation
import XCTest

public enum TestPaths {
    /// The package root (the folder holding Package.swift).
    public static let root: URL = {
        var url = URL(fileURLWithPath: #filePath)
        while url.path != "/" {
            url.deleteLastPathComponent()
            if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) { return url }
        }
        fatalError("Package.swift not found above \(#filePath)")
    }()

    /// ../shared beside the project: golden outputs and data sets, read by tests only.
    public static let shared = root.deletingLastPathComponent().appendingPathComponent("shared")

    public static func golden(_ name: String) -> URL { shared.appendingPathComponent("golden").appendingPathComponent(name) }
    public static func data(_ name: String) -> URL { shared.appendingPathComponent("data").appendingPathComponent(name) }

    /// The default model, fetched (via ops/fetch-model) if it is not there yet. Never skips: if the fetch
    /// fails, the test that asked fails with the reason.
    public static func defaultModel(file: StaticString = #filePath, line: UInt = #line) throws -> String {
        if let env = ProcessInfo.processInfo.environment["PROXIMA_MODEL"], FileManager.default.fileExists(atPath: env) {
            return env
        }
        let path = root.appendingPathComponent("models/SmolLM2-135M-Instruct.Q4_1.gguf").path
        if FileManager.default.fileExists(atPath: path) { return path }
        let fetch = Process()
        fetch.executableURL = URL(fileURLWithPath: "/bin/bash")
        fetch.arguments = [root.appendingPathComponent("ops/fetch-model").path]
        try fetch.run()
        fetch.waitUntilExit()
        guard fetch.terminationStatus == 0, FileManager.default.fileExists(atPath: path) else {
            XCTFail("the default model could not be fetched (ops/fetch-model exited \(fetch.terminationStatus))", file: file, line: line)
            throw CocoaError(.fileNoSuchFile)
        }
        return path
    }

    /// Reads and decodes a JSON file.
    public static func json(_ url: URL) throws -> Any {
        try JSONSerialization.jsonObject(with: Data(contentsOf: url))
    }
}
