// TestFiles: scratch directories for the files the tests write, and the assertion that a load is refused
// with the expected ModelFileError case naming the file, the key or tensor, and the problem.

import Foundation
import ModelFiles
import XCTest

// MARK: Scratch files

/// A fresh directory under the system temporary directory, removed when the value goes away.
final class ScratchDirectory {
    let url: URL

    init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("proxima-modelfiles-\(UUID())")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(at: url) }

    func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Writes `bytes` to `name` (plainly, without fsync: tests write thousands of files) and returns the path.
    @discardableResult
    func write(_ bytes: [UInt8], to name: String) -> String {
        let path = path(name)
        try! Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }
}

// MARK: Refusals

/// The case of a ModelFileError, without its payload.
enum RefusalKind: Equatable { case unreadable, malformed, unsupported, missing }

extension ModelFileError {
    var kind: RefusalKind {
        switch self {
        case .unreadable: return .unreadable
        case .malformed: return .malformed
        case .unsupported: return .unsupported
        case .missing: return .missing
        }
    }

    var path: String {
        switch self {
        case let .unreadable(path, _), let .malformed(path, _, _), let .unsupported(path, _, _), let .missing(path, _):
            return path
        }
    }

    /// The header field, key or tensor the error names ("" for an unreadable file).
    var what: String {
        switch self {
        case .unreadable: return ""
        case let .malformed(_, what, _), let .unsupported(_, what, _), let .missing(_, what): return what
        }
    }

    /// The problem ("" for a missing key or tensor: being absent is the problem).
    var problem: String {
        switch self {
        case let .unreadable(_, reason): return reason
        case let .malformed(_, _, problem), let .unsupported(_, _, problem): return problem
        case .missing: return ""
        }
    }
}

/// Asserts that `load` throws a ModelFileError of `kind` for `path` whose `what` contains `what` and whose
/// problem contains every string of `problem`, and that its description (the message users see) names
/// the file, the key or tensor, and the problem. Returns the error for further checks.
@discardableResult
func assertRefused<T>(_ load: @autoclosure () throws -> T, path: String, _ kind: RefusalKind, what: String,
                      problem: [String] = [], file: StaticString = #filePath, line: UInt = #line) -> ModelFileError? {
    do {
        _ = try load()
        XCTFail("\(path) loaded, expected a \(kind) error naming \(what)", file: file, line: line)
        return nil
    } catch let error as ModelFileError {
        let message = error.description
        XCTAssertEqual(error.kind, kind, message, file: file, line: line)
        XCTAssertEqual(error.path, path, message, file: file, line: line)
        XCTAssertTrue(what.isEmpty ? error.what.isEmpty : error.what.contains(what),
                      "\(message): names '\(error.what)', expected '\(what)'", file: file, line: line)
        for part in problem {
            XCTAssertTrue(error.problem.contains(part), "\(message): problem lacks '\(part)'", file: file, line: line)
        }
        for part in [path, what] + problem where !part.isEmpty {
            XCTAssertTrue(message.contains(part), "\(message) lacks '\(part)'", file: file, line: line)
        }
        return error
    } catch {
        XCTFail("\(path): expected a ModelFileError, got \(error)", file: file, line: line)
        return nil
    }
}
