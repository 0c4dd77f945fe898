// LiveServer: a real `proxima serve` process for the live tests: the release binary on a free loopback port
// with a temporary database, started, probed until /ready, signalled; plus curl and Python helpers.

import Foundation
import TestSupport
import XCTest

// MARK: - The server process

/// A spawned `.build/release/proxima serve`. The binary must exist (ops/test builds it before the tests).
final class LiveServer {
    let port: Int
    let database: String
    let process = Process()
    let logFile: URL
    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// The release binary the package built.
    static let builtBinary = TestPaths.root.appendingPathComponent(".build/release/proxima")

    /// Starts the server on `database` and waits until /ready answers 200 (60 s at most). `binary` is the
    /// package's release build unless given; `workingDirectory` is the test's unless given.
    init(database: String, port: Int? = nil, arguments: [String] = [], environment: [String: String] = [:],
         binary: URL = LiveServer.builtBinary, workingDirectory: URL? = nil,
         file: StaticString = #filePath, line: UInt = #line) throws {
        guard FileManager.default.isExecutableFile(atPath: binary.path) else {
            XCTFail("\(binary.path) is missing: build it first (`swift build -c release --product proxima`; ops/test does)", file: file, line: line)
            throw LiveTestError("release binary missing")
        }
        self.port = try port ?? LiveServer.freePort()
        self.database = database
        logFile = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-serve-\(self.port)-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: logFile.path, contents: nil)
        process.executableURL = binary
        if let workingDirectory { process.currentDirectoryURL = workingDirectory }
        process.arguments = ["serve", "--port", String(self.port), "--db", database, "--model", try TestPaths.defaultModel(),
                             "--threads", "2"] + arguments
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("PROXIMA_") }
        env.merge(environment) { $1 }
        process.environment = env
        let log = try FileHandle(forWritingTo: logFile)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        try waitUntilReady(file: file, line: line)
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
    }

    private func waitUntilReady(file: StaticString, line: UInt) throws {
        let deadline = Date().addingTimeInterval(60)
        while Date() < deadline {
            guard process.isRunning else {
                XCTFail("proxima serve exited with \(process.terminationStatus) before it was ready:\n\(log)", file: file, line: line)
                throw LiveTestError("server exited")
            }
            if let response = try? Curl.run(["\(baseURL)/ready"]), response.status == 200 { return }
            Thread.sleep(forTimeInterval: 0.2)
        }
        XCTFail("proxima serve was not ready within 60 s:\n\(log)", file: file, line: line)
        throw LiveTestError("server not ready")
    }

    /// What the server logged so far.
    var log: String { (try? String(contentsOf: logFile, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits for the process to exit (30 s at most); returns its exit status.
    @discardableResult
    func stop(_ signal: Int32) -> Int32 {
        kill(process.processIdentifier, signal)
        let deadline = Date().addingTimeInterval(30)
        while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// The server's /metrics: each sample line's value by its name and labels, as written.
    func metrics() throws -> [String: Double] {
        let text = try Curl.run(["\(baseURL)/metrics"]).text
        var values: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            values[String(line[..<space])] = value
        }
        return values
    }

    /// A free TCP port on 127.0.0.1 (bound to port 0, then released).
    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw LiveTestError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// A fresh temporary database path.
    static func temporaryDatabase() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-live-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        return folder.appendingPathComponent("proxima.sqlite").path
    }
}

struct LiveTestError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

// MARK: - curl

/// curl as an HTTP client (the live tests also check that curl works unmodified).
enum Curl {
    struct Response {
        var status: Int
        var headers: [String: String]
        var body: Data
        var exitCode: Int32
        var text: String { String(decoding: body, as: UTF8.self) }
        func json() throws -> [String: Any] {
            try XCTUnwrap(try JSONSerialization.jsonObject(with: body) as? [String: Any], text)
        }
    }

    /// Runs curl with `arguments` (plus -s and a status/header dump); `input` is sent on stdin.
    static func run(_ arguments: [String], input: Data? = nil) throws -> Response {
        let folder = FileManager.default.temporaryDirectory
        let headerFile = folder.appendingPathComponent("curl-\(UUID().uuidString).headers")
        let bodyFile = folder.appendingPathComponent("curl-\(UUID().uuidString).body")
        defer { try? FileManager.default.removeItem(at: headerFile); try? FileManager.default.removeItem(at: bodyFile) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-D", headerFile.path, "-o", bodyFile.path] + arguments
        let stdin = Pipe()
        if input != nil { process.standardInput = stdin }
        try process.run()
        if let input {
            stdin.fileHandleForWriting.write(input)
            try stdin.fileHandleForWriting.close()
        }
        process.waitUntilExit()
        let headerText = (try? String(contentsOf: headerFile, encoding: .utf8)) ?? ""
        var status = 0
        var headers: [String: String] = [:]
        for line in headerText.components(separatedBy: "\r\n") {
            if line.hasPrefix("HTTP/") { status = Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0; headers = [:] }
            if let colon = line.firstIndex(of: ":") {
                headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            }
        }
        return Response(status: status, headers: headers, body: (try? Data(contentsOf: bodyFile)) ?? Data(),
                        exitCode: process.terminationStatus)
    }

    /// POSTs JSON text.
    static func postJSON(_ url: String, _ json: String, headers: [String] = []) throws -> Response {
        try run(["-X", "POST", url, "-H", "Content-Type: application/json", "--data-binary", "@-"]
                + headers.flatMap { ["-H", $0] }, input: Data(json.utf8))
    }
}

// MARK: - Python with the openai client

enum PythonClient {
    /// The venv ops/test creates with the pinned openai package.
    static var python: URL { TestPaths.root.appendingPathComponent(".venv-test/bin/python") }

    /// Runs Tests/EndToEndTests/Scripts/<script> with `arguments`; returns its stdout parsed as JSON.
    static func run(_ script: String, _ arguments: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Any {
        guard FileManager.default.isExecutableFile(atPath: python.path) else {
            XCTFail("\(python.path) is missing: run ops/test (it creates the venv with the openai package)", file: file, line: line)
            throw LiveTestError("no test venv")
        }
        let scriptURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Scripts/\(script)")
        let process = Process()
        process.executableURL = python
        process.arguments = [scriptURL.path] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let output = out.fileHandleForReading.readDataToEndOfFile()
        let errors = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            XCTFail("\(script) exited \(process.terminationStatus):\n\(String(decoding: errors, as: UTF8.self))", file: file, line: line)
            throw LiveTestError("\(script) failed")
        }
        return try JSONSerialization.jsonObject(with: output)
    }
}
