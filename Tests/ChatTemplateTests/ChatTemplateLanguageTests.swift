// ChatTemplateLanguageTests: the jinja2 subset piece by piece (whitespace control, precedence, loops,
// scoping, namespace, filters, tests, Undefined); every expectation was checked against HF's jinja2 env.

import ChatTemplate
import ProximaCore
import XCTest

final class ChatTemplateLanguageTests: XCTestCase {
    private func render(_ source: String, _ variables: [String: TemplateValue] = [:], now: TemplateDate? = nil) throws -> String {
        try ChatTemplate(source).render(messages: [], addGenerationPrompt: false, variables: variables, now: now)
    }

    // MARK: Whitespace

    func testTrimBlocksAndLstripBlocksAsHuggingFaceConfiguresThem() throws {
        XCTAssertEqual(try render("a\n{% if true %}\n  b\n{% endif %}\nc"), "a\n  b\nc")
        XCTAssertEqual(try render("  {% if true %}x{% endif %}  \n"), "x  ")
        XCTAssertEqual(try render("a\n    {{ 'b' }}\nc"), "a\n    b\nc", "lstrip_blocks does not touch {{ }}")
        XCTAssertEqual(try render("{# comment #}\nx"), "x", "trim_blocks applies after comments")
        XCTAssertEqual(try render("<{% for x in [1, 2] %}\n    {{ x }}\n{% endfor %}>"), "<    1\n    2\n>")
    }

    func testMinusAndPlusMarkers() throws {
        XCTAssertEqual(try render("a  {{- 'b' -}}  c"), "abc")
        XCTAssertEqual(try render("z  \n{%- if true %}  a  {%- endif %}"), "z  a")
        XCTAssertEqual(try render("{% for x in [1, 2] -%}\n  {{ x }}\n{%- endfor %}"), "12")
        XCTAssertEqual(try render("a {%+ if true %}b{% endif %}|\n  {%+ if true %}b{% endif %}"), "a b|\n  b")
        XCTAssertEqual(try render("{% if true +%}\nb{% endif %}"), "\nb")
    }

    func testNewlinesAreNormalisedAndOneTrailingNewlineDropped() throws {
        XCTAssertEqual(try render("x\r\ny\rz"), "x\ny\nz")
        XCTAssertEqual(try render("line\n\n"), "line\n")
    }

    // MARK: Expressions

    func testArithmeticPrecedence() throws {
        XCTAssertEqual(try render("{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 - 2 - 3 }}"), "7 9 64 4 5")
        XCTAssertEqual(try render("{{ 7 // 2 }} {{ -7 // 2 }} {{ 7 % -3 }} {{ 7 / 2 }} {{ 0.1 + 0.2 }}"), "3 -4 -2 3.5 0.30000000000000004")
        XCTAssertEqual(try render("{{ 'a' + ' b ' | trim + 'c' }} {{ -3 | abs }} {{ 'x' ~ 1 | string }}"), "abc 3 x1",
                       "filters bind tighter than binary operators; unary minus binds tighter than a filter")
    }

    func testBooleanLogicComparisonAndMembership() throws {
        XCTAssertEqual(try render("{{ not true or true }} {{ not (true or true) }} {{ true and false or 'x' }} {{ 0 or '' or none }} {{ 1 and 2 }}"),
                       "True False x None 2")
        XCTAssertEqual(try render("{{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 == 1.0 }} {{ 'a' != 'b' }} {{ [1, 2] == [1, 2] }} {{ 'b' >= 'a' }}"),
                       "True False True True True True")
        XCTAssertEqual(try render("{{ 'ab' in 'cabd' }} {{ 2 not in [1, 2] }} {{ 'k' in {'k': 1} }} {{ not 'z' in 'abc' }}"),
                       "True False True True")
        XCTAssertEqual(try render("{{ 'yes' if 1 > 2 else 'no' }}[{{ 'yes' if false }}]{{ 'a' if true else 'b' if true else 'c' }}"), "no[]a")
    }

    func testLiteralsAndPythonPrinting() throws {
        XCTAssertEqual(try render(#"{{ 'a\tb\u00e9\x41\\' }} {{ "it's" }} {{ 1.5e3 }} {{ 1_000 }} {{ 'ab' 'cd' }}"#), "a\tbéA\\ it's 1500.0 1000 abcd")
        XCTAssertEqual(try render(#"{{ [1, 'a', none, true, 2.0] }} {{ {'a': 1, 'b': ["it's"]} }} {{ True }} {{ None }} {{ (1, 2) | list }}"#),
                       #"[1, 'a', None, True, 2.0] {'a': 1, 'b': ["it's"]} True None [1, 2]"#)
        XCTAssertEqual(try render("{% set t = 'x', %}{{ t }} {{ {'k': 'v'} | items | list }}"), "('x',) [('k', 'v')]")
    }

    func testSubscriptsAttributesAndSlices() throws {
        let messages: TemplateValue = [["role": "system", "content": "s"], ["role": "user", "content": "u"]]
        XCTAssertEqual(try render("{{ m[0]['role'] }} {{ m[0].role }} {{ m[-1].content }} {{ m[1:] | length }} {{ m[5] is defined }}", ["m": messages]),
                       "system system u 1 False")
        XCTAssertEqual(try render("{{ 'abc'[::-1] }} {{ 'abcdef'[1:4] }} {{ [1, 2, 3, 4][::2] }} {{ 'abc'[-1] }}"), "cba bcd [1, 3] c")
    }

    func testStringAndDictionaryMethods() throws {
        XCTAssertEqual(try render(#"{{ ' x '.strip() }}|{{ 'xxhixx'.strip('x') }}|{{ 'a,b,,c'.split(',') }}|{{ ' a  b '.split() }}|{{ 'a b c'.split(' ', 1) }}"#),
                       "x|hi|['a', 'b', '', 'c']|['a', 'b']|['a', 'b c']")
        XCTAssertEqual(try render(#"{{ "hello world's".title() }}|{{ 'Hello'.startswith('He') }}|{{ 'Hello'.endswith(('x', 'lo')) }}|{{ 'aB'.upper() }}{{ 'aB'.lower() }}"#),
                       "Hello World'S|True|True|ABab")
        XCTAssertEqual(try render("{{ 'a-b-c'.replace('-', '+', 1) }}|{{ 'abc'.find('c') }}|{{ ', '.join(['a', 'b']) }}|{{ 'hELLO'.capitalize() }}|{{ '  x'.lstrip() }}{{ 'x  '.rstrip() }}"),
                       "a+b-c|2|a, b|Hello|xx")
        let dictionary: TemplateValue = ["a": 1, "b": "two"]
        XCTAssertEqual(try render("{{ d.get('x', 'dflt') }} {{ d.get('a') }} {{ d.get('zz') }} {{ d.items() | list }} {{ d.keys() | list }} {{ d.values() | list }}{% for k, v in d.items() %} {{ k }}={{ v }}{% endfor %}",
                                  ["d": dictionary]),
                       "dflt 1 None [('a', 1), ('b', 'two')] ['a', 'b'] [1, 'two'] a=1 b=two")
    }

    // MARK: Statements

    func testLoopVariables() throws {
        XCTAssertEqual(try render("{% for x in 'abc' %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }}|{% endfor %}"),
                       "1032TrueFalse3|2121FalseFalse3|3210FalseTrue3|")
        XCTAssertEqual(try render("{% for x in [1, 2, 3] %}{{ loop.previtem is defined }}{{ loop.previtem }}-{{ loop.nextitem }}{{ loop.cycle('a', 'b') }};{% endfor %}"),
                       "False-2a;True1-3b;True2-a;")
        XCTAssertEqual(try render("{% for a in [1, 2] %}{% for b in 'xy' %}{{ a }}{{ b }}{{ loop.index }}{% endfor %}{{ loop.index }} {% endfor %}"),
                       "1x11y21 2x12y22 ")
    }

    func testLoopElseBreakContinueAndFilter() throws {
        XCTAssertEqual(try render("{% for x in [] %}x{% else %}empty{% endfor %}"), "empty")
        XCTAssertEqual(try render("{% for x in [1, 2, 3, 4] %}{% if x == 2 %}{% continue %}{% endif %}{% if x == 4 %}{% break %}{% endif %}{{ x }}{% endfor %}"), "13")
        XCTAssertEqual(try render("{% for x in range(6) if x is odd %}{{ x }}{{ loop.index }}{{ loop.length }},{% endfor %}"), "113,323,533,")
    }

    func testScopingAndNamespace() throws {
        XCTAssertEqual(try render("{% set x = 1 %}{% for i in [1, 2] %}{% set x = x + i %}{{ x }}{% endfor %}{{ x }}{% if true %}{% set x = 5 %}{% endif %}{{ x }}"),
                       "2315", "a set inside a loop body does not leak out; inside an if it does")
        XCTAssertEqual(try render("{% set ns = namespace(n=0, seen=false) %}{% for i in range(5) %}{% set ns.n = ns.n + i %}{% endfor %}{{ ns.n }} {{ ns.seen }}"),
                       "10 False")
        XCTAssertEqual(try render("{% set a, b = 1, 2 %}{{ a }}{{ b }}{% set x %}hi {{ a }}{% endset %}[{{ x }}]"), "12[hi 1]")
    }

    func testMacros() throws {
        XCTAssertEqual(try render("{% macro greet(name, punct='!') %}Hi {{ name }}{{ punct }}{% endmacro %}{{ greet('Bo') }} {{ greet('Al', punct='?') }} {{ greet() }}"),
                       "Hi Bo! Hi Al? Hi !")
    }

    func testGenerationBlockRendersItsBody() throws {
        XCTAssertEqual(try render("a{% generation %} x {% endgeneration %}b{% for m in [1] %}{% generation %}{{ m }}{% endgeneration %}{% endfor %}"),
                       "a x b1", "HF's AssistantTracker tag only marks assistant text")
    }

    // MARK: Tests and filters

    func testIsTests() throws {
        XCTAssertEqual(try render("{{ x is defined }} {{ none is none }} {{ 'a' is string }} {{ {} is mapping }} {{ [] is iterable }} {{ 'a' is sequence }} {{ 3 is odd }} {{ 4 is even }} {{ 4 is divisibleby 2 }} {{ 1 is number }} {{ true is boolean }}"),
                       "False True True True True True True True True True True")
        XCTAssertEqual(try render("{{ 1.5 is odd }} {{ 3.0 is odd }} {{ 6 is divisibleby 3 }} {{ true * [1] }}"), "False True True [1]")
        XCTAssertEqual(try render("{{ 1 is integer }} {{ true is integer }} {{ 1.0 is float }} {{ 'a' is lower }} {{ 'A' is upper }} {{ 1 is equalto 1 }} {{ x is not defined }} {{ 2 is in [1, 2] }} {{ true is true }} {{ none is sameas none }} {{ 2 is gt 1 }}"),
                       "True False True True True True True True True True True")
    }

    func testFilters() throws {
        XCTAssertEqual(try render("{{ 'abc' | length }} {{ [1, 2] | count }} {{ 'aB' | upper }}{{ 'aB' | lower }} {{ [3, 1] | first }}{{ 'abc' | last }} {{ ['a', 'b'] | join('-') }} {{ [1, 2] | join }}"),
                       "3 2 ABab 3c a-b 12")
        XCTAssertEqual(try render("{{ missing | default('d') }} {{ none | default('d') }} {{ '' | d('e', true) }} {{ 'hello WORLD' | capitalize }} {{ 'a-a' | replace('a', 'b') }} {{ 1 | string }} {{ 'ab' | list }}"),
                       "d None e Hello world b-b 1 ['a', 'b']")
        XCTAssertEqual(try render("{{ 'hello-world (x)' | title }} {{ [1, 2, 3] | reverse | list }} {{ 'abc' | reverse }} {{ '42' | int }} {{ '3.7' | int }} {{ 'x' | int }} {{ '2.5' | float }} {{ -1.5 | abs }} {{ '  x  ' | trim }} {{ 'xyx' | trim('x') }}"),
                       "Hello-World (X) [3, 2, 1] cba 42 3 0 2.5 1.5 x y")
    }

    func testSelectRejectAndMap() throws {
        let messages: TemplateValue = [["role": "system", "content": "s"], ["role": "user", "content": "u", "flag": true]]
        XCTAssertEqual(try render("{{ [1, 0, 2, none] | select | list }} {{ [1, 2, 3, 4] | reject('odd') | list }} {{ [1, 5, 3] | select('gt', 2) | list }}"),
                       "[1, 2] [2, 4] [5, 3]")
        XCTAssertEqual(try render("{{ m | selectattr('role', 'equalto', 'user') | map(attribute='content') | list }} {{ m | rejectattr('role', '==', 'user') | list | length }} {{ ['a', 'b'] | map('upper') | join }} {{ m | map(attribute='missing', default='-') | join }} {{ m | selectattr('flag') | list | length }}",
                                  ["m": messages]),
                       "['u'] 1 AB -- 1")
    }

    func testGeneratorsAndDictViewsBehaveLikePythons() throws {
        let dictionary: TemplateValue = ["a": 1]
        XCTAssertEqual(try render("{{ d.items() }} {{ d.keys() }} {{ d.values() | list }} {{ d.keys() | length }} {{ 'a' in d.keys() }}", ["d": dictionary]),
                       "dict_items([('a', 1)]) dict_keys(['a']) [1] 1 True")
        XCTAssertEqual(try render("{{ 'yes' if [] | select else 'no' }} {{ [1, 2] | reverse | list }} {{ 1 | select is defined }} {{ (1 | select) is iterable }}"),
                       "yes [2, 1] True True", "a generator is truthy even when empty, and fails only when iterated")
        XCTAssertThrowsError(try render("{{ [1] | select | length }}"), "generators have no len()")
        XCTAssertThrowsError(try render("{{ 1 | select | list }}"), "the deferred failure surfaces on iteration")
    }

    func testToJSONMatchesHuggingFacesJSONDumps() throws {
        let value: TemplateValue = ["b": [1, ["c": nil]], "a": "x"]
        XCTAssertEqual(try render("{{ t | tojson }}|{{ t | tojson(sort_keys=true) }}|{{ t | tojson(separators=(',', ':')) }}", ["t": value]),
                       #"{"b": [1, {"c": null}], "a": "x"}|{"a": "x", "b": [1, {"c": null}]}|{"b":[1,{"c":null}],"a":"x"}"#)
        XCTAssertEqual(try render("{{ t | tojson(indent=2) }}", ["t": value]),
                       "{\n  \"b\": [\n    1,\n    {\n      \"c\": null\n    }\n  ],\n  \"a\": \"x\"\n}")
        XCTAssertEqual(try render(#"{{ {'k': 'é"\n\u0001<>&'} | tojson }}|{{ [] | tojson(indent=2) }}|{{ [1.0, 1e-07, none, true, 10] | tojson }}"#),
                       #"{"k": "é\"\n\u0001<>&"}|[]|[1.0, 1e-07, null, true, 10]"#)
    }

    // MARK: Undefined and globals

    func testUndefinedBehavesLikeJinjasDefaultUndefined() throws {
        XCTAssertEqual(try render("[{{ missing }}] {{ missing | length }} [{% for x in missing %}x{% endfor %}] {{ missing is defined }} {{ missing ~ 'a' }} {{ missing == none }}"),
                       "[] 0 [] False a False")
        XCTAssertEqual(try render("{{ {'a': 1}.b is defined }} {{ 'x'.foo is defined }} {{ 'x'.strip is defined }} {{ none.foo is defined }} {{ missing | first is defined }}"),
                       "False False True False False")
        XCTAssertEqual(try render("{{ missing | list }} {{ missing | join }} {{ missing | items | list }} {{ not missing }} {{ missing is iterable }}"),
                       "[]  [] True True")
    }

    func testStandardVariablesAndGlobals() throws {
        XCTAssertEqual(try ChatTemplate("{{ messages | length }}{{ add_generation_prompt }}{{ tools }}{{ documents }}{{ tools is defined }}")
            .render(messages: [ChatMessage(role: "user", content: "hi")], addGenerationPrompt: true), "1TrueNoneNoneTrue")
        XCTAssertEqual(try render("{% set d = {'a': 1} %}{{ d['a'] }}{{ d.a }}{{ dict(x=1, y='z') }}{{ range(2, 8, 3) | list }}{{ range(3) | list }}"),
                       "11{'x': 1, 'y': 'z'}[2, 5][0, 1, 2]")
    }

    func testStrftimeNowFormatsTheCallersDate() throws {
        let now = TemplateDate(year: 2024, month: 9, day: 26, hour: 14, minute: 5, second: 9)
        XCTAssertEqual(try render("{{ strftime_now('%d %b %Y') }}|{{ strftime_now('%A %B %-d, %Y %H:%M:%S %p %j %y %a %I %m %%') }}", now: now),
                       "26 Sep 2024|Thursday September 26, 2024 14:05:09 PM 270 24 Thu 02 09 %")
    }
}
