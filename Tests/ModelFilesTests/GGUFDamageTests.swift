// GGUFDamageTests: valid files cut short at every length and with random bytes changed (fixed seeds):
// each is refused with a ModelFileError naming the file, or still loads; nothing crashes.

import Llama
import ModelFiles
import ProximaNumerics
import TestModels
import XCTest

final class GGUFDamageTests: XCTestCase {
    private let scratch = ScratchDirectory()

    /// A file with every metadata value type and three tensors of different types and ranks, after a
    /// string of `filler` bytes when that is not 0.
    private func sampleFile(filler: Int = 0) -> [UInt8] {
        var writer = GGUFWriter()
        if filler > 0 { writer.set("t.filler", .string(String(repeating: "x", count: filler))) }
        for (key, value) in GGUFRoundTripTests.everyValueType { writer.set(key, value) }
        var random = TestRandom(seed: 3)
        let tensors: [(String, [Int], QuantType)] = [("tensor.q8", [32, 2], .q8_0), ("tensor.f16", [64], .f16), ("tensor.q41", [32, 1, 3], .q4_1)]
        for (name, shape, type) in tensors {
            writer.addTensor(name, shape: shape, type: type,
                             bytes: TinyLlamaFile.randomBytes(type, count: shape.reduce(1, *), using: &random))
        }
        return writer.bytes()
    }

    private func position(of text: String, in bytes: [UInt8]) -> Int {
        let pattern = Array(text.utf8)
        return (0...(bytes.count - pattern.count)).first { Array(bytes[$0..<($0 + pattern.count)]) == pattern }!
    }

    /// Reads every byte of every tensor (dequantised), as a model load would.
    private func touchTensorData(_ file: GGUFFile) {
        for t in file.tensors {
            let values = UnsafeMutablePointer<Float>.allocate(capacity: t.elementCount)
            dequantize(t.type, from: file.data(of: t), count: t.elementCount, into: values)
            values.deallocate()
        }
    }

    // MARK: Truncation

    func testEveryPrefixShorterThanTheDataIsRefused() throws {
        let bytes = sampleFile()
        let whole = try GGUFFile(path: scratch.write(bytes, to: "whole.gguf"))
        let dataEnd = whole.tensors.map { $0.fileOffset + $0.byteCount }.max()!
        let path = scratch.path("prefix.gguf")
        for length in 0..<bytes.count {
            scratch.write(Array(bytes[0..<length]), to: "prefix.gguf")
            do {
                let file = try GGUFFile(path: path)
                XCTAssertGreaterThanOrEqual(length, dataEnd, "a prefix of \(length) bytes loaded")
                XCTAssertEqual(file.tensors.count, 3)
            } catch {
                XCTAssertLessThan(length, dataEnd, "\(error)")
                XCTAssertEqual(error.path, path)
                XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description)
                let said = ["truncated", "past the end", "empty", "not a GGUF file"].filter(error.problem.contains)
                XCTAssertFalse(said.isEmpty, "prefix \(length): \(error.description) does not say the file is cut short")
            }
        }
    }

    /// Counts are checked against the bytes left before their items are read (at least 12 bytes per key,
    /// 28 per tensor info, 8 per string in an array), so a cut soon after a count is reported as a count
    /// that cannot fit; the filler makes room for the other cuts to be reported where they fall.
    func testTruncationNamesWhatWasBeingRead() throws {
        let early = Array(sampleFile()[0..<29])
        let earlyPath = scratch.write(early, to: "early.gguf")
        assertRefused(try GGUFFile(path: earlyPath), path: earlyPath, .malformed, what: "header metadata count",
                      problem: ["count 31 cannot fit", "truncated"])

        let bytes = sampleFile(filler: 600)
        let whole = try GGUFFile(path: scratch.write(bytes, to: "whole.gguf"))
        let firstKey = position(of: "t.u8", in: bytes)
        let u32Value = position(of: "t.u32", in: bytes) + 5 + 4
        let stringArray = position(of: "t.array.string", in: bytes) + 14 + 4
        let tensorName = position(of: "tensor.q41", in: bytes)
        let q41Dims = tensorName + 10 + 4
        let q41 = whole.tensor("tensor.q41")!
        let cuts: [(Int, String)] = [
            (10, "header tensor count"),
            (20, "header metadata count"),
            (firstKey - 3, "metadata key #1"),
            (firstKey + 2, "metadata key #1"),
            (firstKey + 6, "metadata 't.u8' type"),
            (u32Value + 3, "metadata 't.u32'"),
            (stringArray + 2, "metadata 't.array.string' array element type"),
            (stringArray + 7, "metadata 't.array.string' array length"),
            (stringArray + 12 + 9 + 8 + 12 + 8 + 3, "metadata 't.array.string'[3]"),
            (tensorName + 4, "tensor #2 name"),
            (tensorName + 12, "tensor 'tensor.q41' dimension count"),
            (q41Dims + 20, "tensor 'tensor.q41' shape"),
            (q41Dims + 24 + 2, "tensor 'tensor.q41' type"),
            (q41Dims + 28 + 5, "tensor 'tensor.q41' data offset"),
            (q41.fileOffset + 17, "tensor 'tensor.q41'"),
        ]
        for (length, what) in cuts {
            let path = scratch.write(Array(bytes[0..<length]), to: "cut-\(length).gguf")
            let problem = what == "tensor 'tensor.q41'" ? "past the end of the file" : "truncated"
            assertRefused(try GGUFFile(path: path), path: path, .malformed, what: what, problem: [problem])
        }
    }

    // MARK: Random damage

    /// Changes 1 to 3 random bytes among the first `span` bytes of `bytes`.
    private func damaged(_ bytes: [UInt8], span: Int, using random: inout TestRandom) -> [UInt8] {
        var copy = bytes
        for _ in 0..<Int.random(in: 1...3, using: &random) {
            let i = Int.random(in: 0..<span, using: &random)
            switch Int.random(in: 0..<4, using: &random) {
            case 0: copy[i] = 0xFF
            case 1: copy[i] = 0
            default: copy[i] ^= UInt8(1) << UInt8.random(in: 0...7, using: &random)
            }
        }
        return copy
    }

    func testRandomlyDamagedFilesLoadOrAreRefused() throws {
        let bytes = sampleFile()
        let path = scratch.path("damaged.gguf")
        var random = TestRandom(seed: 20_251_122)
        var refused = 0
        for _ in 0..<3000 {
            scratch.write(damaged(bytes, span: bytes.count, using: &random), to: "damaged.gguf")
            do {
                touchTensorData(try GGUFFile(path: path))
            } catch {
                refused += 1
                XCTAssertEqual(error.path, path)
                XCTAssertTrue(error.description.hasPrefix(path + ": "), error.description)
            }
        }
        XCTAssertGreaterThan(refused, 300, "damage should mostly hit the header and metadata")
    }

    func testRandomlyDamagedTinyLlamaLoadsOrIsRefused() throws {
        let bytes = TinyLlamaFile().writer().bytes()
        let path = scratch.path("damaged-llama.gguf")
        let dataStart = try GGUFFile(path: scratch.write(bytes, to: "llama.gguf")).tensors.map(\.fileOffset).min()!
        var random = TestRandom(seed: 5)
        var refused = 0
        for _ in 0..<400 {
            scratch.write(damaged(bytes, span: dataStart, using: &random), to: "damaged-llama.gguf")
            do {
                let weights = try LlamaWeights(gguf: GGUFFile(path: path), pool: nil)
                XCTAssertNil(weights.config.inconsistency)
            } catch {
                refused += 1
                XCTAssertEqual(error.path, path)
            }
        }
        XCTAssertGreaterThan(refused, 100)
    }
}
