// ConnectionLimitsTests: over real sockets, a connection that never finishes its headers (slowloris) or sits
// idle is closed after http.idle_timeout_seconds, and at most http.max_connections are served at once (the
// next waits until one closes).

import Foundation
import TestSupport
import XCTest

final class ConnectionLimitsTests: XCTestCase {
    /// A TCP connection to 127.0.0.1:`port`.
    private func connect(_ port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        guard connected else { close(fd); throw LiveTestError("cannot connect to port \(port)") }
        return fd
    }

    /// Whether the server closed `fd` within `seconds` (a read returns end of file).
    private func closedByServer(_ fd: Int32, within seconds: Double) -> Bool {
        var timeout = timeval(tv_sec: Int(seconds), tv_usec: Int((seconds - Double(Int(seconds))) * 1e6))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var byte: UInt8 = 0
        return recv(fd, &byte, 1, 0) == 0
    }

    func testUnfinishedHeadersAndIdleConnectionsAreClosedAndConnectionsAreCapped() throws {
        let server = try LiveServer(database: try LiveServer.temporaryDatabase(),
                                    environment: ["PROXIMA_HTTP_IDLE_TIMEOUT_SECONDS": "1", "PROXIMA_HTTP_MAX_CONNECTIONS": "2"])
        defer { server.stop(SIGTERM) }

        // Headers that never end: closed after the idle timeout.
        let slow = try connect(server.port)
        defer { close(slow) }
        _ = "GET /health HTTP/1.1\r\nHost: x\r\n".withCString { send(slow, $0, strlen($0), 0) }
        XCTAssertTrue(closedByServer(slow, within: 5), "a connection with unfinished headers stayed open")

        // Two idle connections take both places: a third client waits (here: gives up after 0.5 s) …
        let first = try connect(server.port), second = try connect(server.port)
        defer { close(first); close(second) }
        Thread.sleep(forTimeInterval: 0.2)
        let waiting = try Curl.run(["--max-time", "0.5", "\(server.baseURL)/health"])
        XCTAssertNotEqual(waiting.status, 200, "a third connection was served while two were open")
        // … until the idle timeout frees them.
        XCTAssertTrue(closedByServer(first, within: 5))
        XCTAssertTrue(closedByServer(second, within: 5))
        let served = try Curl.run(["--max-time", "5", "\(server.baseURL)/health"])
        XCTAssertEqual(served.status, 200)
    }
}
