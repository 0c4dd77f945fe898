// EnsembleStateFile: a version's whole learning state — every member's LoRA parameters and AdamW moments and
// step — as one zlib-compressed file; its sha256 names it, and loading checks the content against the name.
//
// Layout (after zlib): magic, a little-endian UInt32 header length, the JSON header, then per member its
// parameters in fp32 and its two moments in bf16 (rounded to nearest even). Each tensor is stored as byte
// planes (all first bytes, then all second bytes, …), which zlib compresses far better than interleaved floats
// (exponents repeat). The parameters stay exact (the served merge is made from them); the moments only steer
// the next phase's steps, and bf16 keeps their range with 8 bits of precision. Files of the first layout
// ("PXES": everything fp32, interleaved) still load.

import CZlib
import Foundation
import Learning
import Llama

public enum EnsembleStateFile {
    private static let magic: [UInt8] = Array("PXE2".utf8)
    private static let firstMagic: [UInt8] = Array("PXES".utf8)

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
        var offset = raw.count
        raw += [UInt8](repeating: 0, count: ensemble.members.count * n * 8)
        raw.withUnsafeMutableBytes { out in
            for member in ensemble.members {
                writePlanes(member.parameters.storage.pointer, count: n, bytesPerValue: 4, to: out.baseAddress! + offset)
                offset += n * 4
                for moment in [member.optimizer.m, member.optimizer.v] {
                    writePlanes(moment.storage.pointer, count: n, bytesPerValue: 2, to: out.baseAddress! + offset)
                    offset += n * 2
                }
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

    /// Reads an ensemble written by `encode` (either layout); `path` names the file in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(ModelFileError) -> LoRAEnsemble {
        guard bytes.count > 8 else { throw .malformed(path: path, what: "ensemble state", problem: "truncated") }
        let rawCount = bytes.withUnsafeBytes { Int(UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self))) }
        guard rawCount > 8, rawCount < 1 << 36 else { throw .malformed(path: path, what: "ensemble state", problem: "implausible size \(rawCount)") }
        var raw = [UInt8](repeating: 0, count: rawCount)
        var size = uLongf(rawCount)
        let status = raw.withUnsafeMutableBufferPointer { dst in
            bytes.withUnsafeBufferPointer { src in uncompress(dst.baseAddress!, &size, src.baseAddress! + 8, uLong(bytes.count - 8)) }
        }
        let kind = Array(raw[0..<4])
        guard status == Z_OK, Int(size) == rawCount, kind == magic || kind == firstMagic else {
            throw .malformed(path: path, what: "ensemble state", problem: "corrupt (zlib status \(status))")
        }
        let jsonCount = raw.withUnsafeBytes { Int(UInt32(littleEndian: $0.loadUnaligned(fromByteOffset: 4, as: UInt32.self))) }
        guard 8 + jsonCount <= raw.count, let header = try? JSONDecoder().decode(Header.self, from: Data(raw[8..<(8 + jsonCount)])),
              header.members >= 1, header.steps.count == header.members else {
            throw .malformed(path: path, what: "ensemble state header", problem: "unreadable")
        }
        let layout = LoRALayout(model: header.model, lora: header.lora)
        let n = layout.count
        let first = kind == firstMagic
        guard raw.count == 8 + jsonCount + header.members * n * (first ? 12 : 8) else {
            throw .malformed(path: path, what: "ensemble state", problem: "size does not match \(header.members) members of \(n) values")
        }
        var offset = 8 + jsonCount
        func tensor(bytesPerValue: Int) -> LoRATensors {
            let t = LoRATensors(layout: layout)
            raw.withUnsafeBytes { source in
                if first {
                    UnsafeMutableRawPointer(t.storage.pointer).copyMemory(from: source.baseAddress! + offset, byteCount: n * 4)
                } else {
                    readPlanes(source.baseAddress! + offset, count: n, bytesPerValue: bytesPerValue, into: t.storage.pointer)
                }
            }
            offset += n * (first ? 4 : bytesPerValue)
            return t
        }
        let members = header.steps.map { step in
            let p = tensor(bytesPerValue: 4), m = tensor(bytesPerValue: 2), v = tensor(bytesPerValue: 2)
            return LoRAMember(parameters: p, optimizer: AdamWState(m: m, v: v, step: step))
        }
        return LoRAEnsemble(layout: layout, members: members)
    }

    /// Writes `count` floats as byte planes: fp32 (4 planes) or bf16 rounded to nearest even (the high 2 planes).
    private static func writePlanes(_ values: UnsafePointer<Float>, count n: Int, bytesPerValue: Int, to out: UnsafeMutableRawPointer) {
        let bytes = out.assumingMemoryBound(to: UInt8.self)
        for i in 0..<n {
            var bits = values[i].bitPattern
            if bytesPerValue == 2 { bits = values[i].isNaN ? bits | 0x0040_0000 : bits &+ 0x7FFF &+ ((bits >> 16) & 1) }
            let word = bytesPerValue == 2 ? bits >> 16 : bits
            for plane in 0..<bytesPerValue { bytes[plane * n + i] = UInt8(truncatingIfNeeded: word >> (8 * plane)) }
        }
    }

    /// Reads what `writePlanes` wrote.
    private static func readPlanes(_ source: UnsafeRawPointer, count n: Int, bytesPerValue: Int, into values: UnsafeMutablePointer<Float>) {
        let bytes = source.assumingMemoryBound(to: UInt8.self)
        for i in 0..<n {
            var word: UInt32 = 0
            for plane in 0..<bytesPerValue { word |= UInt32(bytes[plane * n + i]) << (8 * plane) }
            values[i] = Float(bitPattern: bytesPerValue == 2 ? word << 16 : word)
        }
    }
}
