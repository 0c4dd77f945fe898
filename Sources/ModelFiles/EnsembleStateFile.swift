// EnsembleStateFile: a version's whole learning state — every member's LoRA parameters and AdamW moments and
// step — as one zlib-compressed file; its sha256 names it, and loading checks the content against the name.

import CZlib
import Foundation
import Learning
import Llama

public enum EnsembleStateFile {
    private static let magic: [UInt8] = Array("PXES".utf8)

    private struct Header: Codable {
        var model: LlamaConfig
        var lora: LoRAConfiguration
        var members: Int
        var steps: [Int]
    }

    /// The compressed bytes of `ensemble`.
    public static func encode(_ ensemble: LoRAEnsemble) -> [UInt8] {
        let header = Header(model: ensemble.layout.model, lora: ensemble.layout.lora, members: ensemble.members.count,
                            steps: ensemble.members.map(\.optimizer.step))
        let json = Array((try? JSONEncoder().encode(header)) ?? Data())
        var raw: [UInt8] = magic
        withUnsafeBytes(of: UInt32(json.count).littleEndian) { raw += $0 }
        raw += json
        let n = ensemble.layout.count
        raw.reserveCapacity(raw.count + ensemble.members.count * 3 * n * 4)
        for m in ensemble.members {
            for t in [m.parameters, m.optimizer.m, m.optimizer.v] {
                raw += UnsafeRawBufferPointer(start: t.storage.pointer, count: n * 4)
            }
        }
        var size = compressBound(uLong(raw.count))
        var out = [UInt8](repeating: 0, count: Int(size) + 8)
        withUnsafeBytes(of: UInt64(raw.count).littleEndian) { out.replaceSubrange(0..<8, with: $0) }
        let status = out.withUnsafeMutableBufferPointer { dst in
            raw.withUnsafeBufferPointer { src in compress2(dst.baseAddress! + 8, &size, src.baseAddress!, uLong(raw.count), 1) }
        }
        precondition(status == Z_OK, "zlib compress2 failed (\(status))")
        out.removeSubrange((8 + Int(size))...)
        return out
    }

    /// Reads an ensemble written by `encode`; `path` names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(ModelFileError) -> LoRAEnsemble {
        guard bytes.count > 8 else { throw .malformed(path: path, what: "ensemble state", problem: "truncated") }
        let rawCount = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard rawCount > 8, rawCount < 1 << 36 else { throw .malformed(path: path, what: "ensemble state", problem: "implausible size \(rawCount)") }
        var raw = [UInt8](repeating: 0, count: rawCount)
        var size = uLongf(rawCount)
        let status = raw.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in uncompress(dst.baseAddress!, &size, src.baseAddress! + 8, uLong(bytes.count - 8)) }
        }
        guard status == Z_OK, Int(size) == rawCount, Array(raw[0..<4]) == magic else {
            throw .malformed(path: path, what: "ensemble state", problem: "corrupt (zlib status \(status))")
        }
        let jsonCount = raw.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self))) }
        guard 8 + jsonCount <= raw.count, let header = try? JSONDecoder().decode(Header.self, from: Data(raw[8..<(8 + jsonCount)])),
              header.members >= 1, header.steps.count == header.members else {
            throw .malformed(path: path, what: "ensemble state header", problem: "unreadable")
        }
        let layout = LoRALayout(model: header.model, lora: header.lora)
        let n = layout.count
        guard raw.count == 8 + jsonCount + header.members * 3 * n * 4 else {
            throw .malformed(path: path, what: "ensemble state", problem: "size does not match \(header.members) members of \(n) values")
        }
        var offset = 8 + jsonCount
        func tensor() -> LoRATensors {
            let t = LoRATensors(layout: layout)
            raw.withUnsafeBytes { UnsafeMutableRawPointer(t.storage.pointer).copyMemory(from: $0.baseAddress! + offset, byteCount: n * 4) }
            offset += n * 4
            return t
        }
        let members = header.steps.map { step in
            let p = tensor(), m = tensor(), v = tensor()
            return LoRAMember(parameters: p, optimizer: AdamWState(m: m, v: v, step: step))
        }
        return LoRAEnsemble(layout: layout, members: members)
    }
}
