// FuzzTests: the short in-CI stretch of each parser's fuzz target (a fixed seed, so a run is repeatable), after
// its seeds and every input kept from an earlier crash, hang or finding. The long runs are
// `proxima-fuzz TARGET --runs 1000000` (docs/benchmarks.md has the last ones).

import FuzzTargets
import XCTest

final class FuzzTests: XCTestCase {
    private func fuzz(_ name: String, runs: Int) async throws {
        let target = try XCTUnwrap(FuzzTargets.named(name))
        let report = try await FuzzRunner.run(target, runs: runs, seed: 20261206)
        let kept = FuzzTargets.regressionInputs(of: name).count
        XCTAssertEqual(report.runs, try target.seeds().count + kept + runs)
        XCTAssertGreaterThan(report.accepted, 0, "the seeds are accepted")
        XCTAssertEqual(report.findings.map(\.finding), [])
    }

    func testGGUF() async throws { try await fuzz("gguf", runs: 3000) }
    func testSafetensors() async throws { try await fuzz("safetensors", runs: 20000) }
    func testJinjaTemplates() async throws { try await fuzz("jinja", runs: 5000) }
    func testHTTPJSONBodies() async throws { try await fuzz("http-json", runs: 3000) }
}
