// FuzzTarget: a parser that takes outside input, driven input by input. A run passes when the parser returns
// or refuses the input with its own error; a crash (trap, fault), a hang, or a broken promise the target
// checks (a 5xx answer, an accepted input that does not round-trip) is a finding.

import Foundation

/// A property the target promises for every input, found broken.
public struct FuzzFinding: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// What one input did: refused (the parser's own error) or accepted (parsed, rendered, answered 2xx).
/// Accepted inputs join the working corpus: they reach deeper than refused ones.
public enum FuzzOutcome: Sendable { case refused, accepted }

public protocol FuzzTarget: Sendable {
    var name: String { get }
    /// Valid inputs the mutations start from.
    func seeds() throws -> [[UInt8]]
    /// Tokens of the format for insertion (keywords, delimiters).
    var dictionary: [[UInt8]] { get }
    /// The largest input worth trying.
    var maxSize: Int { get }
    /// Runs `drive` with the function that checks one input (throws `FuzzFinding` for a broken promise). The
    /// target sets up what the inputs need (a server, a scratch file) around the whole run.
    func session(_ drive: @Sendable (_ check: @Sendable ([UInt8]) async throws -> FuzzOutcome) async throws -> Void) async throws
}

/// The four parsers that take outside input.
public enum FuzzTargets {
    public static let all: [any FuzzTarget] = [GGUFTarget(), SafetensorsTarget(), TemplateTarget(), HTTPBodyTarget()]

    public static func named(_ name: String) -> (any FuzzTarget)? { all.first { $0.name == name } }

    /// Where inputs that once crashed or hung are kept, one file each, replayed by FuzzTests.
    public static func regressions(of target: String) -> URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Regressions").appendingPathComponent(target)
    }

    /// The kept regression inputs of `target`.
    public static func regressionInputs(of target: String) -> [(name: String, bytes: [UInt8])] {
        let directory = regressions(of: target)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path))?.filter { !$0.hasPrefix(".") }.sorted() ?? []
        return names.compactMap { name in
            FileManager.default.contents(atPath: directory.appendingPathComponent(name).path).map { (name, [UInt8]($0)) }
        }
    }
}
