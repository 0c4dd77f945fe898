// Safetensors: the format PEFT and transformers read and write: an 8-byte little-endian header length, a
// JSON header (name → dtype, shape, data offsets; optional __metadata__), then the raw tensor bytes.

import Foundation
import ProximaNumerics

/// An F32 tensor by name, with its shape (outermost first, as PyTorch orders it).
public struct NamedTensor: Sendable, Equatable {
    public var name: String
    public var shape: [Int]
    public var values: [Float]

    public init(name: String, shape: [Int], values: [Float]) {
        precondition(shape.reduce(1, *) == values.count)
        self.name = name; self.shape = shape; self.values = values
    }
}

public enum Safetensors {
    /// Serialises F32 tensors (sorted by name, 8-byte aligned header) with string metadata.
    public static func encode(_ tensors: [NamedTensor], metadata: [String: String] = [:]) -> [UInt8] {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var offset = 0
        let sorted = tensors.sorted { $0.name < $1.name }
        for t in sorted {
            header[t.name] = ["dtype": "F32", "shape": t.shape, "data_offsets": [offset, offset + 4 * t.values.count]]
            offset += 4 * t.values.count
        }
        var json = Array((try? JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])) ?? Data())
        while json.count % 8 != 0 { json.append(0x20) }
        var out: [UInt8] = []
        out.reserveCapacity(8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out += json
        for t in sorted { t.values.withUnsafeBytes { out.append(contentsOf: $0) } }
        return out
    }

    /// Reads the F32 tensors and metadata of a safetensors file's bytes; `path` names it in errors.
    public static func decode(_ bytes: [UInt8], path: String) throws(ModelFileError) -> (tensors: [NamedTensor], metadata: [String: String]) {
        guard bytes.count >= 8 else { throw .malformed(path: path, what: "header", problem: "shorter than 8 bytes") }
        let n = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
        guard n <= UInt64(bytes.count - 8) else { throw .malformed(path: path, what: "header", problem: "header length \(n) exceeds the file") }
        let start = 8 + Int(n)
        guard let header = try? JSONSerialization.jsonObject(with: Data(bytes[8..<start])) as? [String: Any] else {
            throw .malformed(path: path, what: "header", problem: "not a JSON object")
        }
        var tensors: [NamedTensor] = []
        var metadata: [String: String] = [:]
        for (name, value) in header {
            if name == "__metadata__" {
                metadata = value as? [String: String] ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw .malformed(path: path, what: "tensor '\(name)'", problem: "header entry lacks dtype, shape or data_offsets")
            }
            let width: Int
            switch dtype {
            case "F32": width = 4
            case "F16", "BF16": width = 2
            default: throw .unsupported(path: path, what: "tensor '\(name)'", problem: "dtype \(dtype) (F32, F16 and BF16 are read)")
            }
            guard shape.allSatisfy({ $0 >= 0 && $0 < 1 << 31 }), shape.count <= 4 else {
                throw .malformed(path: path, what: "tensor '\(name)'", problem: "shape \(shape)")
            }
            let count = shape.reduce(1, *)
            guard offsets[0] >= 0, offsets[1] - offsets[0] == width * count, start + offsets[1] <= bytes.count else {
                throw .malformed(path: path, what: "tensor '\(name)'", problem: "data offsets \(offsets) do not fit shape \(shape) and the file")
            }
            var values = [Float](repeating: 0, count: count)
            bytes.withUnsafeBytes { src in
                let data = src.baseAddress! + start + offsets[0]
                values.withUnsafeMutableBufferPointer { dst in
                    switch dtype {
                    case "F32": UnsafeMutableRawPointer(dst.baseAddress!).copyMemory(from: data, byteCount: 4 * count)
                    case "F16": dequantize(.f16, from: data, count: count, into: dst.baseAddress!)
                    default: dequantize(.bf16, from: data, count: count, into: dst.baseAddress!)
                    }
                }
            }
            tensors.append(NamedTensor(name: name, shape: shape, values: values))
        }
        return (tensors.sorted { $0.name < $1.name }, metadata)
    }
}
