// ChatTemplateFixtureTests: real model templates (Fixtures/chat_templates) render exactly what Hugging
// Face's apply_chat_template renders (Fixtures/chat_template_expectations.json), plus the SmolLM2 goldens.

import Foundation
import TestSupport
import ChatTemplate
import ProximaCore
import XCTest

final class ChatTemplateFixtureTests: XCTestCase {
    // MARK: Golden prompts of the default model

    /// The five reference cases: SmolLM2's own template (from the model file's metadata dump) renders `prompt_text`.
    func testSmolLM2GoldenPromptsRenderExactly() throws {
        let template = try ChatTemplate(try Self.smolLM2TemplateFromMetadata())
        let golden = try XCTUnwrap(try TestPaths.json(TestPaths.golden("torch_fp32_greedy.json")) as? [String: Any])
        let cases = try XCTUnwrap(golden["cases"] as? [[String: Any]])
        XCTAssertEqual(cases.count, 5)
        for (index, goldenCase) in cases.enumerated() {
            let messages = try XCTUnwrap(goldenCase["messages"] as? [[String: String]]).map {
                ChatMessage(role: $0["role"] ?? "", content: $0["content"] ?? "")
            }
            let rendered = try template.render(messages: messages, addGenerationPrompt: true)
            XCTAssertEqual(rendered, goldenCase["prompt_text"] as? String, "golden case \(index)")
        }
    }

    func testSmolLM2FixtureIsTheModelFileTemplate() throws {
        XCTAssertEqual(try Self.fixture("smollm2-135m-instruct.jinja"), try Self.smolLM2TemplateFromMetadata())
    }

    // MARK: Model families

    func testSmolLM2() throws { try checkExpectations(for: ["smollm2-135m-instruct"]) }
    func testLlama3() throws { try checkExpectations(for: ["llama-3-8b-instruct"]) }
    func testLlama31() throws { try checkExpectations(for: ["llama-3.1-8b-instruct"]) }
    func testLlama32() throws { try checkExpectations(for: ["llama-3.2-3b-instruct"]) }
    func testMistralInstruct() throws {
        try checkExpectations(for: ["mistral-7b-instruct-v0.2-legacy", "mistral-7b-instruct-v1-system",
                                    "mistral-7b-instruct-v0.3", "mistral-nemo-instruct-2407"])
    }
    func testGemma() throws { try checkExpectations(for: ["gemma-7b-it", "gemma-2-2b-it"]) }
    func testQwen25() throws { try checkExpectations(for: ["qwen2.5-7b-instruct"]) }
    func testPhi3() throws { try checkExpectations(for: ["phi-3-mini", "phi-3.5-mini-instruct"]) }
    func testOtherTemplatesFromLlamaCppTests() throws {
        try checkExpectations(for: ["deepseek-coder-33b-instruct", "granite-3.0-8b-instruct", "vigogne-2-70b-chat",
                                    "openchat-3.5-0106", "ling-lite", "seed-oss-36b-instruct", "fusionnet-34bx2-moe",
                                    "yandexgpt-5-lite-8b-instruct", "chatglm4"])
    }

    /// Every fixture template has expectations, and every expectation is checked by one of the tests above.
    func testEveryFixtureHasExpectations() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: Self.fixtures.appendingPathComponent("chat_templates").path)
            .filter { $0.hasSuffix(".jinja") }
        let covered = Set(try Self.expectations().map(\.template))
        XCTAssertEqual(Set(files), covered)
        XCTAssertEqual(files.count, 22)
    }

    // MARK: Helpers

    private func checkExpectations(for names: [String], file: StaticString = #filePath, line: UInt = #line) throws {
        let files = Set(names.map { $0 + ".jinja" })
        let cases = try Self.expectations().filter { files.contains($0.template) }
        XCTAssertEqual(Set(cases.map(\.template)), files, "every template has cases", file: file, line: line)
        var templates: [String: ChatTemplate] = [:]
        for expectation in cases {
            let template = try templates[expectation.template] ?? ChatTemplate(try Self.fixture(expectation.template))
            templates[expectation.template] = template
            let label = "\(expectation.template) / \(expectation.name)"
            do {
                let rendered = try template.render(messages: expectation.messages, addGenerationPrompt: expectation.addGenerationPrompt,
                                                   variables: expectation.variables, now: expectation.now)
                XCTAssertEqual(rendered, expectation.expected, label, file: file, line: line)
            } catch {
                guard let expectedError = expectation.error else {
                    XCTFail("\(label): unexpected error \(error)", file: file, line: line)
                    continue
                }
                if expectedError.kind == "raised" {
                    XCTAssertEqual(error, .raised(expectedError.message, at: error.location), label, file: file, line: line)
                } else {
                    guard case .runtime = error else { XCTFail("\(label): \(error)", file: file, line: line); continue }
                }
            }
        }
    }

    static let fixtures = TestPaths.root.appendingPathComponent("Tests/ChatTemplateTests/Fixtures")

    static func fixture(_ name: String) throws -> String {
        try String(contentsOf: fixtures.appendingPathComponent("chat_templates").appendingPathComponent(name), encoding: .utf8)
    }

    static func smolLM2TemplateFromMetadata() throws -> String {
        let metadata = try String(contentsOf: TestPaths.golden("gguf_meta.txt"), encoding: .utf8)
        let header = "## tokenizer.chat_template (verbatim)\n"
        let start = try XCTUnwrap(metadata.range(of: header)).upperBound
        let end = try XCTUnwrap(metadata.range(of: "\n\n## Tensors", range: start..<metadata.endIndex)).lowerBound
        return String(metadata[start..<end])
    }

    static func expectations() throws -> [TemplateExpectation] {
        let data = try Data(contentsOf: fixtures.appendingPathComponent("chat_template_expectations.json"))
        return try JSONDecoder().decode(ExpectationFile.self, from: data).cases
    }
}

// MARK: - Expectation file

private struct ExpectationFile: Decodable {
    let cases: [TemplateExpectation]
}

struct TemplateExpectation: Decodable {
    struct ExpectedError: Decodable {
        let kind: String
        let message: String
    }

    let template: String
    let name: String
    let messages: [ChatMessage]
    let addGenerationPrompt: Bool
    let variables: [String: TemplateValue]
    let now: TemplateDate?
    let expected: String?
    let error: ExpectedError?

    private enum CodingKeys: String, CodingKey {
        case template, name, messages, addGenerationPrompt = "add_generation_prompt", variables, now, expected, error
    }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        template = try container.decode(String.self, forKey: .template)
        name = try container.decode(String.self, forKey: .name)
        messages = try container.decode([ChatMessage].self, forKey: .messages)
        addGenerationPrompt = try container.decode(Bool.self, forKey: .addGenerationPrompt)
        variables = try container.decode([String: TaggedValue].self, forKey: .variables).mapValues(\.value)
        if let parts = try container.decodeIfPresent([Int].self, forKey: .now) {
            now = TemplateDate(year: parts[0], month: parts[1], day: parts[2], hour: parts[3], minute: parts[4], second: parts[5])
        } else {
            now = nil
        }
        expected = try container.decodeIfPresent(String.self, forKey: .expected)
        error = try container.decodeIfPresent(ExpectedError.self, forKey: .error)
    }
}

/// The generator's order-keeping encoding of Python values: `{"dict": [[key, value], …]}`, `{"int": 1}`, ….
private struct TaggedValue: Decodable {
    let value: TemplateValue

    private struct Pair: Decodable {
        let key: String
        let value: TaggedValue

        init(from decoder: Decoder) throws {
            var container = try decoder.unkeyedContainer()
            key = try container.decode(String.self)
            value = try container.decode(TaggedValue.self)
        }
    }

    private enum Tag: String, CodingKey { case string, int, double, bool, none, list, dict }

    init(from decoder: Decoder) throws {
        let container = try decoder.container(keyedBy: Tag.self)
        if let string = try container.decodeIfPresent(String.self, forKey: .string) {
            value = .string(string)
        } else if let int = try container.decodeIfPresent(Int.self, forKey: .int) {
            value = .int(int)
        } else if let double = try container.decodeIfPresent(Double.self, forKey: .double) {
            value = .double(double)
        } else if let bool = try container.decodeIfPresent(Bool.self, forKey: .bool) {
            value = .bool(bool)
        } else if let list = try container.decodeIfPresent([TaggedValue].self, forKey: .list) {
            value = .list(list.map(\.value))
        } else if let pairs = try container.decodeIfPresent([Pair].self, forKey: .dict) {
            value = .dict(TemplateDictionary(orderedPairs: pairs.map { ($0.key, $0.value.value) }))
        } else {
            value = .none
        }
    }
}
