// WebPageTests: the pages the binary serves are the files in web/ (ops/embed-web keeps them in step); every page
// answer carries a content-security policy that forbids inline scripts and other origins, and the page itself
// has none; the pages need no key (the API calls they make do); the controls carry the accessible names the
// browser test (ops/test-browser) and screen readers use.

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
        XCTAssertTrue(files.contains("chat.html") && files.contains("chat.js") && files.contains("dashboard.html"), "\(files)")
        let server = try await TestServer(keys: APIKeys(userKeys: ["u-key"], adminKeys: ["a-key"]))
        let web = self.web
        try await server.test { client in
            for name in files {
                let uri = ["chat.html": "/", "dashboard.html": "/dashboard"][name] ?? "/assets/\(name)"
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

    func testThePagesHaveNoInlineScriptAndNameTheirControls() throws {
        for page in ["chat.html", "dashboard.html"] {
            let html = try String(contentsOf: web.appendingPathComponent(page), encoding: .utf8)
            for script in html.components(separatedBy: "<script").dropFirst() {
                XCTAssertTrue(script.hasPrefix(" src=\"/assets/"), "\(page): only scripts from /assets/: <script\(script.prefix(40))")
            }
            XCTAssertNil(html.range(of: #"\son[a-z]+\s*="#, options: .regularExpression), "\(page): no inline event handlers")
            XCTAssertNil(html.range(of: #"\sstyle\s*="#, options: .regularExpression), "\(page): no inline styles")
            XCTAssertFalse(html.contains("http://") || html.contains("https://"), "\(page): no third-party origin")
        }
        let html = try String(contentsOf: web.appendingPathComponent("chat.html"), encoding: .utf8)
        let dashboard = try String(contentsOf: web.appendingPathComponent("dashboard.html"), encoding: .utf8)
        for name in ["Admin key", "Start phase", "Steps", "Loss"] { XCTAssertTrue(dashboard.contains("aria-label=\"\(name)\""), name) }
        let dashboardScript = try String(contentsOf: web.appendingPathComponent("dashboard.js"), encoding: .utf8)
        XCTAssertTrue(dashboardScript.contains("\"Activate \" + v.id"), "each version's button is named Activate <id>")
        for name in ["dashboard.js", "charts.js", "markdown.js"] {
            let text = try String(contentsOf: web.appendingPathComponent(name), encoding: .utf8)
            XCTAssertFalse(text.contains("innerHTML") || text.contains("insertAdjacentHTML") || text.contains("document.write"), name)
        }
        let script = try String(contentsOf: web.appendingPathComponent("chat.js"), encoding: .utf8)
        for name in ["Message", "Send", "Stop"] { XCTAssertTrue(html.contains("aria-label=\"\(name)\""), name) }
        for name in ["Good response", "Bad response", "A is better", "B is better", "Tie", "Regenerate"] {
            XCTAssertTrue(script.contains("\"\(name)\""), name)
        }
        XCTAssertFalse(script.contains("innerHTML") || script.contains("insertAdjacentHTML") || script.contains("document.write"),
                       "model text reaches the page as text nodes only")
    }
}
