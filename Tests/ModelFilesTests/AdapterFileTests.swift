// AdapterFileTests: SHA-256 against published vectors and the model file's known hash; safetensors and the
// zlib ensemble state round trips and refusals; the PEFT export's q/k row order against llama.cpp's GGUF
// adapter (golden_lora_r4_qv_f32.gguf) and its exact round trip.

import Foundation
import XCTest
import CZlib
import Learning
import Llama
import ModelFiles
import ProximaNumerics
import TestSupport

final class AdapterFileTests: XCTestCase {
    func testSHA256Vectors() throws {
        XCTAssertEqual(SHA256.hex([UInt8]()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(SHA256.hex(Array("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
        let million = [UInt8](repeating: 0x61, count: 1_000_000)
        XCTAssertEqual(SHA256.hex(million), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        var streamed = SHA256()
        var i = 0, step = 1
        while i < million.count {
            streamed.update(million[i..<min(million.count, i + step)])
            i += step
            step = step * 3 % 1000 + 1
        }
        XCTAssertEqual(streamed.finalizeHex(), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
        let model = try GGUFFile(path: try TestPaths.defaultModel())
        var hasher = SHA256()
        hasher.update(UnsafeRawBufferPointer(start: model.map.base, count: model.map.size))
        XCTAssertEqual(hasher.finalizeHex(), "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53")
    }

    func testSafetensorsRoundTripAndRefusal() throws {
        let tensors = [NamedTensor(name: "b", shape: [2, 3], values: [1, 2, 3, 4, 5, 6]), NamedTensor(name: "a", shape: [1], values: [-0.5])]
        let bytes = Safetensors.encode(tensors, metadata: ["format": "pt"])
        let (back, metadata) = try Safetensors.decode(bytes, path: "x.safetensors")
        XCTAssertEqual(back, tensors.sorted { $0.name < $1.name })
        XCTAssertEqual(metadata, ["format": "pt"])
        XCTAssertThrowsError(try Safetensors.decode(Array(bytes.prefix(bytes.count - 4)), path: "cut.safetensors")) {
            XCTAssertTrue("\($0)".contains("cut.safetensors"))
        }
        XCTAssertThrowsError(try Safetensors.decode([1, 0, 0, 0, 0, 0, 0, 0, 0x7B], path: "bad.safetensors"))
    }

    private let model = LlamaConfig(layerCount: 2, dim: 64, ffnDim: 96, headCount: 4, kvHeadCount: 2, headDim: 16,
                                    vocabSize: 10, contextLength: 32, ropeBase: 10_000, normEps: 1e-5)

    private func trainedLookingEnsemble(_ layout: LoRALayout) -> LoRAEnsemble {
        let ensemble = LoRAEnsemble(layout: layout, memberCount: 3, seed: 5)
        for (i, m) in ensemble.members.enumerated() {
            for j in 0..<layout.count { m.parameters.storage.pointer[j] += Float(sin(Double(i * 7919 + j))) * 0.01 }
        }
        return ensemble
    }

    func testPEFTExportLoadsBackAsTheSameDelta() throws {
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: 2, alpha: 5))
        let ensemble = trainedLookingEnsemble(layout)
        let (st, config) = PEFTAdapter.export(members: ensemble.members.map(\.parameters), baseModel: "test")
        let json = try JSONSerialization.jsonObject(with: Data(config)) as! [String: Any]
        XCTAssertEqual(json["r"] as? Int, 6)
        XCTAssertEqual(json["lora_alpha"] as? Double, 5)
        let loaded = try PEFTAdapter.load(safetensors: st, config: config, model: model, path: "adapter")
        let merged = ensemble.merged()
        for role in LinearRole.allCases {
            let (input, output) = model.shape(of: role)
            let x = (0..<input).map { Float(cos(Double($0))) }
            var y1 = [Float](repeating: 0, count: output), y2 = y1, u = [Float](repeating: 0, count: 6)
            merged.delta(layer: 1, role: role)!.apply(x, &y1, u: &u, m: 1, pool: nil)
            loaded.delta(layer: 1, role: role)!.apply(x, &y2, u: &u, m: 1, pool: nil)
            for o in 0..<output { XCTAssertEqual(y1[o], y2[o], accuracy: 1e-6, "\(role)") }
        }
    }

    /// llama.cpp's converter permuted lora_b of attn_q into GGUF order; our mapping must agree exactly.
    func testQRowPermutationMatchesLlamaCppAdapter() throws {
        let golden = try GGUFFile(path: TestPaths.golden("golden_lora_r4_qv_f32.gguf").path)
        let c = LlamaConfig(layerCount: 30, dim: 576, ffnDim: 1536, headCount: 9, kvHeadCount: 3, headDim: 64,
                            vocabSize: 49152, contextLength: 8192, ropeBase: 100_000, normEps: 1e-5)
        for (name, permuted) in [("blk.0.attn_q.weight.lora_b", true), ("blk.0.attn_v.weight.lora_b", false)] {
            let t = try XCTUnwrap(golden.tensor(name))
            let rows = t.shape[1], rank = t.shape[0]
            var stored = [Float](repeating: 0, count: rows * rank)
            stored.withUnsafeMutableBufferPointer { dequantize(t.type, from: golden.data(of: t), count: rows * rank, into: $0.baseAddress!) }
            for hfRow in 0..<rows {
                let row = permuted ? RotaryOrder.llamaRow(ofHFRow: hfRow, headDim: c.headDim) : hfRow
                for j in 0..<rank {
                    XCTAssertEqual(stored[row * rank + j], Float(cos(Double(hfRow) * 0.007 + Double(j) * 0.002) * 0.01), accuracy: 1e-7, name)
                }
            }
        }
    }

    func testEnsembleStateRoundTripAndRefusal() throws {
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: 3, alpha: 6, targets: [.query, .up]))
        let ensemble = trainedLookingEnsemble(layout)
        let g = LoRATensors(layout: layout)
        for i in 0..<layout.count { g.storage.pointer[i] = Float(i % 13) * 0.01 }
        ensemble.members[1].optimizer.update(ensemble.members[1].parameters, gradients: g, configuration: AdamWConfiguration())
        let bytes = EnsembleStateFile.encode(ensemble)
        let back = try EnsembleStateFile.decode(bytes, path: "state")
        XCTAssertEqual(back.layout, layout)
        for (a, b) in zip(ensemble.members, back.members) {
            XCTAssertEqual(a.optimizer.step, b.optimizer.step)
            XCTAssertEqual(a.parameters.storage.array, b.parameters.storage.array, "parameters are stored exactly")
            for (x, y) in [(a.optimizer.m, b.optimizer.m), (a.optimizer.v, b.optimizer.v)] {
                for (u, w) in zip(x.storage.array, y.storage.array) {
                    XCTAssertEqual(w, u, accuracy: abs(u) * 0x1p-8, "moments are stored in bf16, rounded to nearest")
                    XCTAssertEqual(w.bitPattern & 0xFFFF, 0)
                }
            }
        }
        XCTAssertNotEqual(ensemble.members[1].optimizer.m.storage.array.filter { $0 != 0 }.count, 0, "the test has moments to store")
        XCTAssertLessThan(bytes.count, layout.count * ensemble.members.count * 8, "no larger than fp32 parameters and bf16 moments")
        var corrupt = bytes
        corrupt[corrupt.count / 2] ^= 0xFF
        XCTAssertThrowsError(try EnsembleStateFile.decode(corrupt, path: "corrupt.state")) { XCTAssertTrue("\($0)".contains("corrupt.state")) }
        XCTAssertThrowsError(try EnsembleStateFile.decode(Array(bytes.prefix(20)), path: "cut.state"))
    }

    /// States written before the bf16 layout (magic "PXES", everything fp32, interleaved) still load, exactly.
    func testFirstLayoutStateStillLoads() throws {
        struct Header: Encodable { var model: LlamaConfig; var lora: LoRAConfiguration; var members: Int; var steps: [Int] }
        let layout = LoRALayout(model: model, lora: LoRAConfiguration(rank: 2, alpha: 4, targets: [.value, .down]))
        let ensemble = trainedLookingEnsemble(layout)
        for (i, member) in ensemble.members.enumerated() {
            for j in 0..<layout.count { member.optimizer.m.storage.pointer[j] = Float(j % 7) * 1e-3 + Float(i); member.optimizer.v.storage.pointer[j] = 1e-9 * Float(j + 1) }
        }
        let json = try JSONEncoder().encode(Header(model: model, lora: layout.lora, members: 3, steps: [4, 4, 4]))
        var raw = Array("PXES".utf8)
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { raw += $0 }
        raw += Array(json)
        for member in ensemble.members {
            for t in [member.parameters, member.optimizer.m, member.optimizer.v] {
                raw += UnsafeRawBufferPointer(start: t.storage.pointer, count: layout.count * 4)
            }
        }
        var size = compressBound(uLong(raw.count))
        var file = [UInt8](repeating: 0, count: Int(size) + 8)
        withUnsafeBytes(of: UInt64(raw.count).littleEndian) { file.replaceSubrange(0..<8, with: $0) }
        XCTAssertEqual(file.withUnsafeMutableBufferPointer { dst in raw.withUnsafeBufferPointer { compress2(dst.baseAddress! + 8, &size, $0.baseAddress!, uLong(raw.count), 1) } }, Z_OK)
        file.removeSubrange((8 + Int(size))...)
        let back = try EnsembleStateFile.decode(file, path: "old.state")
        for (a, b) in zip(ensemble.members, back.members) {
            XCTAssertEqual(b.optimizer.step, 4)
            for (x, y) in [(a.parameters, b.parameters), (a.optimizer.m, b.optimizer.m), (a.optimizer.v, b.optimizer.v)] {
                XCTAssertEqual(x.storage.array, y.storage.array)
            }
        }
    }
}
