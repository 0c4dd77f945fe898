// WebPageTests: the pages the binary serves are the files in web/ (ops/embed-web keeps them in step); every page
// answer carries a content-security policy that forbids inline scripts and other origins, and the page itself
// has none; the pages need no key (the API calls they make do); the controls carry the accessible names the
// browser test and screen readers use.

import Foundation
import HTTPAPI
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import TestSupport
import XCTest

final class WebPageTests: XCTestCase {
    private let web = TestPaths.root.appendingPathComponent("web")

    func testTheServedFilesAreThoseOfWebAndCarryThePolicy() async throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: web.path).sorted()
        XCTAssertTrue(files.contains("chat.html") && files.contains("chat.js"), "\(files)")
        let server = try await TestServer(keys: APIKeys(userKeys: ["u-key"], adminKeys: ["a-key"]))
        let web = self.web
        try await server.test { client in
            for name in files {
                let uri = name == "chat.html" ? "/" : "/assets/\(name)"
                let response = try await client.get(uri)
                XCTAssertEqual(response.status, .ok, uri)
                let expected = try String(contentsOf: web.appendingPathComponent(name), encoding: .utf8)
                XCTAssertEqual(String(buffer: response.body), expected, "\(uri) differs from web/\(name): run ops/embed-web")
                let policy = try XCTUnwrap(response.headers[.contentSecurityPolicy], uri)
                XCTAssertTrue(policy.contains("script-src 'self'") && policy.contains("default-src 'none'") && !policy.contains("unsafe"), policy)
                XCTAssertEqual(response.headers[HTTPField.Name("X-Content-Type-Options")!], "nosniff")
            }
            let page = try await client.get("/assets/chat.html"), missing = try await client.get("/assets/nothing.js")
            let style = try await client.get("/assets/style.css"), api = try await client.get("/v1/models")
            XCTAssertEqual(page.status, .notFound)
            XCTAssertEqual(missing.status, .notFound)
            XCTAssertEqual(style.headers[.contentType], "text/css; charset=utf-8")
            XCTAssertEqual(api.status, .unauthorized, "the API still needs its key")
        }
    }

    func testThePageHasNoInlineScriptAndNamesItsControls() throws {
        let html = try String(contentsOf: web.appendingPathComponent("chat.html"), encoding: .utf8)
        for script in html.components(separatedBy: "<script").dropFirst() {
            XCTAssertTrue(script.hasPrefix(" src=\"/assets/"), "only scripts from /assets/: <script\(script.prefix(40))")
        }
        XCTAssertNil(html.range(of: #"\son[a-z]+\s*="#, options: .regularExpression), "no inline event handlers")
        XCTAssertNil(html.range(of: #"\sstyle\s*="#, options: .regularExpression), "no inline styles")
        XCTAssertFalse(html.contains("http://") || html.contains("https://"), "no third-party origin")
        let script = try String(contentsOf: web.appendingPathComponent("chat.js"), encoding: .utf8)
        for name in ["Message", "Send", "Stop"] { XCTAssertTrue(html.contains("aria-label=\"\(name)\""), name) }
        for name in ["Good response", "Bad response", "A is better", "B is better", "Tie", "Regenerate"] {
            XCTAssertTrue(script.contains("\"\(name)\""), name)
        }
        XCTAssertFalse(script.contains("innerHTML") || script.contains("insertAdjacentHTML") || script.contains("document.write"),
                       "model text reaches the page as text nodes only")
    }
}
