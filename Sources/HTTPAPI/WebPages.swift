// WebPages: the browser pages the binary carries (web/, embedded by ops/embed-web): the chat page at `/`, the
// operator's dashboard at `/dashboard`, and their scripts and styles under `/assets/`. Every page answer forbids
// inline scripts and every other origin (Content-Security-Policy), so nothing a model writes can run, and no
// request leaves for a third party.

import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

struct WebPages {
    /// Scripts, styles and connections only from this server; no inline script or style attribute, no frames.
    static let contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

    static let contentTypes = ["html": "text/html; charset=utf-8", "js": "text/javascript; charset=utf-8", "css": "text/css; charset=utf-8"]

    /// GET /: the chat page.
    func chat(_ request: Request, context: ProximaRequestContext) throws -> Response {
        try Self.file("chat.html")
    }

    /// GET /dashboard: the operator's page (its data comes from the admin routes, with the admin key).
    func dashboard(_ request: Request, context: ProximaRequestContext) throws -> Response {
        try Self.file("dashboard.html")
    }

    /// GET /assets/{name}: a script or a style of the pages.
    func asset(_ request: Request, context: ProximaRequestContext) throws -> Response {
        let name = context.parameters.get("name") ?? ""
        guard !name.hasSuffix(".html") else { throw APIError.notFound("No asset '\(name)'.") }
        return try Self.file(name)
    }

    static func file(_ name: String) throws -> Response {
        guard let text = WebAssets.files[name], let type = contentTypes[(name as NSString).pathExtension] else {
            throw APIError.notFound("No asset '\(name)'.")
        }
        let headers: HTTPFields = [
            .contentType: type, .cacheControl: "no-cache", .contentSecurityPolicy: contentSecurityPolicy,
            HTTPField.Name("X-Content-Type-Options")!: "nosniff", HTTPField.Name("Referrer-Policy")!: "no-referrer",
        ]
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }
}
