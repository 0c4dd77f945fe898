// ChatTemplateErrorTests: what fails, when (init or render), with which kind, message and location;
// nothing unsupported may render silently.

import ChatTemplate
import ProximaCore
import XCTest

final class ChatTemplateErrorTests: XCTestCase {
    private func initError(_ source: String, file: StaticString = #filePath, line: UInt = #line) -> ChatTemplateError? {
        do {
            _ = try ChatTemplate(source)
            XCTFail("expected \(source.debugDescription) to fail at init", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func renderError(_ source: String, messages: [ChatMessage] = [], variables: [String: TemplateValue] = [:],
                             file: StaticString = #filePath, line: UInt = #line) throws -> ChatTemplateError? {
        let template = try ChatTemplate(source)
        do {
            _ = try template.render(messages: messages, addGenerationPrompt: true, variables: variables)
            XCTFail("expected \(source.debugDescription) to fail at render", file: file, line: line)
            return nil
        } catch {
            return error
        }
    }

    private func at(_ line: Int, _ column: Int) -> TemplateSourceLocation { TemplateSourceLocation(line: line, column: column) }

    // MARK: Unsupported constructs fail at init

    func testUnknownFilterNamesTheFilterAndItsPosition() throws {
        let error = initError("{{ x | wordwrap }}")
        XCTAssertEqual(error, .unsupported("unsupported filter 'wordwrap'", at: at(1, 8)))
        XCTAssertTrue(error?.description.hasPrefix("unsupported filter 'wordwrap' at line 1, column 8") ?? false)
        XCTAssertEqual(initError("line1\n{{ x | nope }}")?.location, at(2, 8))
    }

    func testUnknownTestAndStatement() {
        XCTAssertEqual(initError("{{ x is prime }}"), .unsupported("unsupported test 'prime'", at: at(1, 9)))
        XCTAssertEqual(initError("{% include 'x' %}"), .unsupported("unsupported statement 'include'", at: at(1, 1)))
        XCTAssertEqual(initError("{% raw %}x{% endraw %}"), .unsupported("unsupported statement 'raw'", at: at(1, 1)))
    }

    // MARK: Syntax errors fail at init

    func testUnclosedBlocksTagsCommentsAndStrings() {
        XCTAssertEqual(initError("{% if true %}x"), .syntax("unclosed 'if' block: missing '{% endif %}'", at: at(1, 1)))
        XCTAssertEqual(initError("a\n{% for m in messages %}{{ m }}"), .syntax("unclosed 'for' block: missing '{% endfor %}'", at: at(2, 1)))
        XCTAssertEqual(initError("{{ x "), .syntax("unclosed tag: missing '}}'", at: at(1, 1)))
        XCTAssertEqual(initError("{# x"), .syntax("unclosed comment: missing '#}'", at: at(1, 1)))
        XCTAssertEqual(initError("{{ 'abc }}"), .syntax("unterminated string literal", at: at(1, 4)))
    }

    func testStrayTagsAndBadExpressions() {
        XCTAssertEqual(initError("{% endfor %}"), .syntax("unexpected 'endfor' with no open block", at: at(1, 1)))
        XCTAssertEqual(initError("{% elif x %}"), .syntax("unexpected 'elif' with no open block", at: at(1, 1)))
        XCTAssertEqual(initError("{% break %}"), .syntax("'break' outside a for loop", at: at(1, 1)))
        XCTAssertEqual(initError("{{ 1 + }}"), .syntax("expected an expression, got end of tag", at: at(1, 8)))
        XCTAssertEqual(initError("{{ [1,2)] }}"), .syntax("unexpected ')'", at: at(1, 8)))
        XCTAssertEqual(initError("{{ 1 @ 1 }}"), .syntax("unexpected character '@'", at: at(1, 6)))
    }

    // MARK: Render-time failures

    func testMistralRejectsBadRoleAlternationWithTheTemplatesMessage() throws {
        let source = try ChatTemplateFixtureTests.fixture("mistral-7b-instruct-v0.2-legacy.jinja")
        let twoUsers = [ChatMessage(role: "user", content: "a"), ChatMessage(role: "user", content: "b")]
        let error = try renderError(source, messages: twoUsers, variables: ["bos_token": "<s>", "eos_token": "</s>"])
        XCTAssertEqual(error?.message, "Conversation roles must alternate user/assistant/user/assistant/...")
        guard case .raised? = error else { return XCTFail("expected .raised, got \(String(describing: error))") }
        let system = [ChatMessage(role: "system", content: "s")]
        XCTAssertEqual(try renderError(source, messages: system)?.message, "Conversation roles must alternate user/assistant/user/assistant/...")
    }

    func testRaiseExceptionCarriesTheMessageAndLocation() throws {
        XCTAssertEqual(try renderError("ok\n  {{ raise_exception('no ' ~ 1) }}"), .raised("no 1", at: at(2, 21)))
    }

    func testTypeErrorsAndUndefinedUseLikeJinja() throws {
        XCTAssertEqual(try renderError("{{ 'a' + 1 }}"), .runtime("can only concatenate str (not \"int\") to str", at: at(1, 4)))
        XCTAssertEqual(try renderError("{{ missing.x }}"), .runtime("'missing' is undefined", at: at(1, 11)))
        XCTAssertEqual(try renderError("{{ missing + 1 }}"), .runtime("'missing' is undefined", at: at(1, 4)))
        XCTAssertEqual(try renderError("{{ 1 / 0 }}"), .runtime("division by zero", at: at(1, 4)))
        XCTAssertEqual(try renderError("{{ x | tojson }}"), .runtime("Object of type Undefined is not JSON serializable", at: at(1, 8)))
        XCTAssertEqual(try renderError("{% for a, b in [1] %}{% endfor %}"), .runtime("'int' object is not iterable", at: at(1, 1)))
    }

    func testUnsupportedMethodsAndMissingInputsFailAtRender() throws {
        XCTAssertEqual(try renderError("{{ 'x'.zfill(3) }}"), .unsupported("unsupported method 'str.zfill'", at: at(1, 13)))
        XCTAssertEqual(try renderError("{{ strftime_now('%d') }}"),
                       .missingInput("strftime_now() needs the current date, and the template core reads no clock", at: at(1, 16)))
        XCTAssertEqual(try renderError("{% set ns = namespace() %}{% set ns._x = 1 %}")?.message,
                       "Chat templates cannot store underscore-prefixed attributes on a namespace, but got '_x'")
    }

    func testLlama32NeedsTheDateInsteadOfGuessingIt() throws {
        let source = try ChatTemplateFixtureTests.fixture("llama-3.2-3b-instruct.jinja")
        let error = try renderError(source, messages: [ChatMessage(role: "user", content: "hi")], variables: ["bos_token": "<|begin_of_text|>"])
        guard case .missingInput? = error else { return XCTFail("expected .missingInput, got \(String(describing: error))") }
        let dated = try ChatTemplate(source).render(messages: [ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true,
                                                    now: TemplateDate(year: 2025, month: 1, day: 2))
        XCTAssertTrue(dated.contains("Today Date: 02 Jan 2025\n"))
    }

    func testErrorsCarryAHint() {
        let error = ChatTemplateError.raised("m", at: at(1, 1))
        XCTAssertFalse(error.hint.isEmpty)
        XCTAssertTrue(error.description.contains(error.hint))
    }
}
