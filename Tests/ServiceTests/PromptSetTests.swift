// PromptSetTests: the prompt sets built into the binary are the files in prompts/ (ops/embed-prompts
// regenerates them), and prompt files are read with clear errors.

import Foundation
import Service
import TestSupport
import XCTest

final class PromptSetTests: XCTestCase {
    func testBuiltInSetsEqualTheShippedFiles() throws {
        let train = try PromptSet.load(path: TestPaths.root.appendingPathComponent("prompts/train.jsonl").path)
        let dev = try PromptSet.load(path: TestPaths.root.appendingPathComponent("prompts/dev.jsonl").path)
        XCTAssertEqual(PromptSet.train, train, "run ops/embed-prompts after editing prompts/train.jsonl")
        XCTAssertEqual(PromptSet.dev, dev, "run ops/embed-prompts after editing prompts/dev.jsonl")
        XCTAssertEqual(train.count, 1450)
        XCTAssertEqual(dev.count, 200)
        XCTAssertTrue(Set(train).isDisjoint(with: dev))
    }

    func testAPathReplacesTheBuiltInSetAndNoneKeepsIt() throws {
        XCTAssertEqual(try PromptSet.load(path: nil, fallback: ["x"]), ["x"])
        XCTAssertEqual(try PromptSet.load(path: "", fallback: ["x"]), ["x"])
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("prompts-\(UUID().uuidString).jsonl")
        try Data("{\"prompt\": \"a\"}\n\n{\"prompt\": \"b\"}\n".utf8).write(to: file)
        defer { try? FileManager.default.removeItem(at: file) }
        XCTAssertEqual(try PromptSet.load(path: file.path, fallback: ["x"]), ["a", "b"])
    }

    func testBadFilesAreNamedWithTheirLine() {
        XCTAssertThrowsError(try PromptSet.parse("{\"prompt\": \"a\"}\n{\"text\": \"b\"}\n", source: "p.jsonl")) { error in
            XCTAssertEqual("\(error)", "p.jsonl:2: expected {\"prompt\": \"...\"}")
        }
        XCTAssertThrowsError(try PromptSet.parse("\n  \n", source: "empty.jsonl")) { error in
            XCTAssertEqual("\(error)", "empty.jsonl holds no prompts")
        }
        XCTAssertThrowsError(try PromptSet.load(path: "/nonexistent/prompts.jsonl")) { error in
            XCTAssertEqual("\(error)", "cannot read prompt file /nonexistent/prompts.jsonl")
        }
    }
}
